"""Text as it enters from outside (chat, files, command line), made safe to store and parse.

Databases refuse some characters (PostgreSQL rejects NUL in text) and `str.splitlines` splits on
more than newlines (vertical tab, form feed, U+2028…), which would cut one typed line in two.
`clean_text` is applied where chat text enters; files name the offending line and field instead
(`control_characters`), because a unit list is an official record and is corrected at its source.
"""

from __future__ import annotations

import re
import unicodedata

# C0 and C1 controls except tab and newline, plus the Unicode line/paragraph separators.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_SPACE_LIKE = re.compile(r"[\t\x0b\x0c\x1c-\x1f\x85\u2028\u2029]")


def clean_text(text: str) -> str:
    """NFC text with Windows/Mac line ends as newlines, line-like breaks as spaces, no controls."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACE_LIKE.sub(" ", text)
    return unicodedata.normalize("NFC", _CONTROL.sub("", text))


def control_characters(text: str) -> list[str]:
    """The control characters in `text`, named for a message («U+0000», …), in order, once each."""
    found: list[str] = []
    for match in _CONTROL.finditer(text.replace("\r\n", "\n")):
        name = f"U+{ord(match.group()):04X}"
        if name not in found:
            found.append(name)
    return found


def shorten(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a space (never inside a word or a number such as
    "37-CT/TU") and ended with "…"; a single word longer than the limit is cut at the limit."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    cut = head.rfind(" ")
    if cut > limit // 3:
        head = head[:cut]
    return head.rstrip(" ,;:-–") + "…"
