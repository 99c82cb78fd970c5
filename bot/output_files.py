"""Files baocao writes (workbooks, Word drafts, zips): ASCII names for downloads and files alike,
the path checked first, the content written to a temporary file beside it and renamed over it, so
that a failed or interrupted command never leaves half a file behind. It sits in the core, not in
bot/cli/, because the document builders (bot/documents/) name their downloads with `ascii_name`
and write the command line's files through it, and documents import nothing from the command
line."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def check_output_path(output: str | os.PathLike, suffix: str, noun: str) -> str | None:
    """A Vietnamese reason why `output` cannot receive a `suffix` file, or None when it can."""
    path = Path(output)
    if path.suffix.lower() != suffix:
        return f"{noun} phải có đuôi {suffix}: {path}"
    if path.is_dir():
        return f"{path} là một thư mục, cần tên tệp {suffix}"
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        return f"không có thư mục {parent} để ghi {path.name}"
    if not os.access(parent, os.W_OK):
        return f"không có quyền ghi vào thư mục {parent}"
    return None


@contextlib.contextmanager
def replaced_atomically(path: Path) -> Iterator[BinaryIO]:
    """A stream to a temporary file beside `path`, renamed over `path` when the block ends
    without an error and removed otherwise; the file gets the permissions open() would give."""
    folder = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f"{path.suffix}.tmp", dir=folder
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(temporary, 0o666 & ~mask)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def ascii_name(text: str) -> str:
    """`text` as a safe ASCII part of a file name ("Đảng ủy xã" → "Dang-uy-xa"), for a download
    that every phone and mail client keeps intact."""
    bare = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(ch for ch in bare if unicodedata.category(ch) != "Mn")
    bare = re.sub(r"[^A-Za-z0-9._-]+", "-", bare).strip("-.")
    return bare[:60] or "x"
