"""How the command line ends on a refused request: one line on stderr and an exit code by the
refusal's kind, decided here once.

Every kind ends with 1, the code scripts and operators already rely on for «refused, read the
line»; 2 stays argparse's «the command was written wrong». The table is kept per kind so that a
kind can get its own code without touching the commands.
"""

from __future__ import annotations

import sys

from conversations.errors import DomainError, ErrorKind

EXIT_CODES = {
    ErrorKind.NOT_FOUND: 1,
    ErrorKind.OUT_OF_SCOPE: 1,
    ErrorKind.STATE: 1,
    ErrorKind.BAD_VALUE: 1,
}


def refused(error: DomainError) -> int:
    """Print the reason and give the exit code of its kind."""
    print(f"baocao: {error}", file=sys.stderr)
    return EXIT_CODES[error.kind]
