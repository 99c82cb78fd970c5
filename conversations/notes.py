"""Words around an answer: a note after "ghi chú:", and a keyword typed with a slip.

Pure (standard library only). :func:`split_note` separates the note an officer keeps with an
answer; :func:`near_miss` recognises "xongg" or "xog" as the keyword "xong" so that the
conversation can ask rather than store the slip as an answer.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["near_miss", "split_note"]

_NOTE_RE = re.compile(r"(?:^|(?<=[\s,;.(]))gh[iì]\s*ch[uúùủũụ]\s*:", re.I)


def split_note(text: str) -> tuple[str, str | None]:
    """ "45/50 ghi chú: ước tính" -> ("45/50", "ước tính"); without a note, (text, None).

    An empty note ("ghi chú:") gives "" (it removes the note kept with the answer).
    """
    match = _NOTE_RE.search(unicodedata.normalize("NFC", text))
    if not match:
        return text, None
    text = unicodedata.normalize("NFC", text)
    note = " ".join(text[match.end() :].split())
    return text[: match.start()].strip().rstrip(",;(").strip(), note


def _distance(a: str, b: str) -> int:
    """Edits (insert, delete, replace, swap two neighbours) from `a` to `b`."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


def near_miss(words: str, targets: tuple[str, ...]) -> str | None:
    """The target `words` (already normalized) is a slip of: "xongg", "xog" -> "xong".

    Only words without digits, at least three letters long, one edit away (two for targets
    longer than five letters), and never a target itself.
    """
    if len(words) < 3 or words in targets or any(ch.isdigit() for ch in words):
        return None
    best, best_distance = None, 3
    for target in targets:
        if abs(len(target) - len(words)) > 2:
            continue
        allowed = 1 if len(target) <= 5 else 2
        distance = _distance(words, target)
        if distance <= allowed and distance < best_distance:
            best, best_distance = target, distance
    return best
