"""How big an uploaded .xlsx becomes once unpacked, read before openpyxl opens it.

An .xlsx is a zip: a file of a few megabytes can declare gigabytes inside, and openpyxl keeps the
shared strings part wholly in memory. The sizes the zip declares bound what Python's zipfile will
ever inflate, so reading them is enough to refuse such a file before opening it. Used by every
import of a workbook a person sends (unit lists, XLSForm forms).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

MAX_UNPACKED_BYTES = 60 * 1024 * 1024  # all parts together, as the zip declares them
MAX_SHARED_STRINGS_BYTES = 20 * 1024 * 1024  # the part openpyxl keeps wholly in memory


@dataclass(frozen=True)
class Unpacked:
    total: int
    shared_strings: int

    @property
    def too_big(self) -> bool:
        return self.total > MAX_UNPACKED_BYTES or self.shared_strings > MAX_SHARED_STRINGS_BYTES


def unpacked_size(path: Path) -> Unpacked | None:
    """The declared unpacked sizes, or None when the file is not a zip (so not an .xlsx)."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        return None
    strings = sum(p.file_size for p in parts if p.filename.lower().endswith("sharedstrings.xml"))
    return Unpacked(sum(part.file_size for part in parts), strings)


def megabytes(size: int) -> str:
    return f"{size // (1024 * 1024)} MB"
