"""Incoming files written to disk as they arrive, never held whole in memory.

A `Stager` writes the chunks of one upload to a temporary file in the data folder's `tmp/`,
hashing them as it goes and refusing the chunk that would pass the size cap; what it hands back
(`StagedFile`) is the file's path, size, checksum and first bytes (for the content check). The
caller renames the file into place (`storage.signed_reports.store_staged_report`) or discards
it. `tmp/` sits in the data folder so that the rename stays on one file system (atomic).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

TMP_FOLDER = "tmp"
PREFIX, SUFFIX = "upload-", ".part"
# An upload that has not finished in a day never will: its process was killed mid-way.
ABANDONED_AFTER = timedelta(days=1)
HEAD_BYTES = 64  # enough for every signature `conversations.uploads` checks


@dataclass(frozen=True)
class StagedFile:
    path: Path
    size: int
    sha256: str
    head: bytes

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            os.remove(self.path)


class TooLarge(Exception):
    """More bytes arrived than the cap allows; the temporary file is already removed."""


class Stager:
    """One upload on its way to disk: `write` each chunk, then `finish` (or `discard`)."""

    def __init__(self, data_dir: str | os.PathLike, max_bytes: int) -> None:
        folder = Path(data_dir) / TMP_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=PREFIX, suffix=SUFFIX, dir=folder)
        self.path = Path(name)
        self._stream = os.fdopen(handle, "wb")
        self._hash = hashlib.sha256()
        self._head = b""
        self.size = 0
        self.max_bytes = max_bytes

    def write(self, chunk: bytes) -> None:
        """Append a chunk; raises `TooLarge` (and removes the file) once past the cap."""
        self.size += len(chunk)
        if self.size > self.max_bytes:
            self.discard()
            raise TooLarge(self.size)
        if len(self._head) < HEAD_BYTES:
            self._head += chunk[: HEAD_BYTES - len(self._head)]
        self._hash.update(chunk)
        self._stream.write(chunk)

    def finish(self) -> StagedFile:
        self._stream.flush()
        os.fsync(self._stream.fileno())
        self._stream.close()
        return StagedFile(self.path, self.size, self._hash.hexdigest(), self._head)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._stream.close()
        with contextlib.suppress(OSError):
            os.remove(self.path)


def stage_bytes(data_dir: str | os.PathLike, data: bytes) -> StagedFile:
    """A file already in memory (a chat download, bounded by its cap), staged like an upload."""
    stager = Stager(data_dir, max_bytes=len(data))
    try:
        stager.write(data)
        return stager.finish()
    except BaseException:
        stager.discard()
        raise


def sweep_abandoned(data_dir: str | os.PathLike, now: datetime) -> int:
    """Remove the temporary files of uploads cut off by a crash (older than a day, so that an
    upload still arriving in another process is left alone); returns how many went."""
    cutoff = (now - ABANDONED_AFTER).timestamp()
    removed = 0
    for path in (Path(data_dir) / TMP_FOLDER).glob(f"{PREFIX}*{SUFFIX}"):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed
