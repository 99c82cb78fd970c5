"""The command line in Vietnamese: argparse's own words ("usage", "positional arguments",
"options", "show this help message and exit" and its error messages) said the office's way.

argparse has no switch for its language, so `VietnameseParser` names its groups and its help
option itself, `VietnameseHelpFormatter` writes the usage line, and `translate_error` turns the
few error messages argparse produces into Vietnamese (anything else is passed on as is).
"""

from __future__ import annotations

import argparse
import re

USAGE_PREFIX = "Cách dùng: "
POSITIONALS_TITLE = "tham số"
OPTIONALS_TITLE = "tùy chọn"
HELP_TEXT = "hiện hướng dẫn này rồi thoát"

_ERRORS = (
    (re.compile(r"^the following arguments are required: (.+)$"), "thiếu tham số bắt buộc: {0}"),
    (re.compile(r"^unrecognized arguments: (.+)$"), "không hiểu tham số: {0}"),
    (
        re.compile(r"^argument (.+?): invalid choice: (.+?) \(choose from (.+)\)$"),
        "tham số {0}: không có lựa chọn {1} (chọn một trong: {2})",
    ),
    (re.compile(r"^argument (.+?): expected one argument$"), "tham số {0} cần một giá trị"),
    (
        re.compile(r"^argument (.+?): ignored explicit argument (.+)$"),
        "tham số {0} không nhận giá trị {1}",
    ),
    (
        re.compile(r"^argument (.+?): not allowed with argument (.+)$"),
        "tham số {0} không dùng cùng {1}",
    ),
    (re.compile(r"^argument (.+?): (.+)$"), "tham số {0}: {1}"),
)


def translate_error(message: str) -> str:
    """argparse's English error message in Vietnamese (unknown messages unchanged)."""
    for pattern, text in _ERRORS:
        match = pattern.match(message)
        if match:
            return text.format(*match.groups())
    return message


class VietnameseHelpFormatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, USAGE_PREFIX if prefix is None else prefix)


class UsageError(Exception):
    """A mistake in how a command was called, already in Vietnamese."""


class VietnameseParser(argparse.ArgumentParser):
    """An ArgumentParser whose help and errors are in Vietnamese; errors raise `UsageError`."""

    def __init__(self, *args, add_help: bool = True, **kwargs) -> None:
        kwargs.setdefault("formatter_class", VietnameseHelpFormatter)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = POSITIONALS_TITLE
        self._optionals.title = OPTIONALS_TITLE
        if add_help:
            self.add_argument("-h", "--help", action="help", help=HELP_TEXT)

    def error(self, message: str) -> None:
        raise UsageError(translate_error(message))

    def add_actions(self, dest: str = "action", metavar: str = "VIỆC"):
        """The sub-commands under this command, one of which must be given."""
        actions = self.add_subparsers(dest=dest, metavar=metavar, parser_class=VietnameseParser)
        actions.required = True
        return actions
