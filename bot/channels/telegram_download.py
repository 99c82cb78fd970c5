"""Downloading a file an officer sent in Telegram, stopped at the size cap by the bytes read.

The size Telegram declares for a document comes from the sender's client and can be wrong (a
60 MB file declared as 1 KB): the download is read as a stream and abandoned as soon as it passes
the cap, so no more than the cap plus one chunk is ever held.
"""

from __future__ import annotations

import contextlib
import io

from aiogram import Bot

CHUNK = 64 * 1024


class FileTooLarge(Exception):
    """The download passed the cap; `read` bytes had arrived when it was abandoned."""

    def __init__(self, read: int) -> None:
        super().__init__(f"more than the cap: {read} bytes read")
        self.read = read


class _CappedBuffer(io.BytesIO):
    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap = cap

    def write(self, chunk) -> int:
        if self.tell() + len(chunk) > self.cap:
            raise FileTooLarge(self.tell() + len(chunk))
        return super().write(chunk)


async def download_capped(bot: Bot, file_path: str, *, cap: int, timeout: int) -> bytes:
    """The file's bytes; `FileTooLarge` once more than `cap` bytes arrive."""
    buffer = _CappedBuffer(cap)
    if bot.session.api.is_local:  # a local Bot API server: aiogram reads the file from disk
        await bot.download_file(file_path, buffer, timeout=timeout, chunk_size=CHUNK)
        return buffer.getvalue()
    stream = bot.session.stream_content(
        url=bot.session.api.file_url(bot.token, file_path),
        timeout=timeout,
        chunk_size=CHUNK,
        raise_for_status=True,
    )
    async with contextlib.aclosing(stream):  # closing it drops the connection at once
        async for chunk in stream:
            buffer.write(chunk)
    return buffer.getvalue()
