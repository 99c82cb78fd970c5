"""A webhook's JSON body, read defensively: a platform's update is small and shallow, so a body
that is too large, not UTF-8 JSON, not an object, or nested deeper than any real update is
refused (the caller answers 400) before any of it is used. NUL characters, which no database
text column takes, are removed from its strings."""

from __future__ import annotations

import json

from aiohttp import web

MAX_BODY = 1024 * 1024  # bytes; a real update is a few KB (a file is sent by id, not inline)
MAX_DEPTH = 32  # levels of objects and arrays; Telegram's deepest updates use about 8


class BadBody(ValueError):
    """The body is not an update we can read."""


async def read_update(request: web.Request) -> dict:
    """The body as a JSON object; `BadBody` for anything else."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BadBody("too large")
    body = bytearray()
    while chunk := await request.content.read(64 * 1024):
        body += chunk
        if len(body) > MAX_BODY:
            raise BadBody("too large")
    try:
        parsed = json.loads(bytes(body).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadBody("not JSON") from None
    if not isinstance(parsed, dict):
        raise BadBody("not an object")
    return _cleaned(parsed, 1)


def _cleaned(value, depth: int):
    """The value with NUL characters removed from every string (no database column takes
    them); `BadBody` when objects and arrays nest deeper than `MAX_DEPTH`."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if not isinstance(value, dict | list):
        return value
    if depth > MAX_DEPTH:
        raise BadBody("too deep")
    if isinstance(value, list):
        return [_cleaned(item, depth + 1) for item in value]
    return {key.replace("\x00", ""): _cleaned(item, depth + 1) for key, item in value.items()}
