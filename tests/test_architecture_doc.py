"""docs/architecture.md names files, modules and functions for a newcomer to find; this keeps
them real: every quoted path exists and every quoted name occurs in the source, so a rename or a
moved module that leaves the document behind fails here, naming what the document still cites."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "architecture.md"
SOURCES = ("bot", "conversations", "storage", "exports", "tests")


def source_words() -> set[str]:
    words: set[str] = set()
    for package in SOURCES:
        for path in (ROOT / package).rglob("*.py"):
            words |= set(re.findall(r"\w+", path.read_text(encoding="utf-8")))
    return words


def cited() -> set[str]:
    """The document's code spans that name something: no spaces, not a command or URL."""
    spans = set(re.findall(r"`([^`\n]+)`", DOCUMENT.read_text(encoding="utf-8")))
    return {s for s in spans if " " not in s and "…" not in s and not s.startswith(("/", "-"))}


def test_every_cited_path_exists() -> None:
    missing = sorted(
        span
        for span in cited()
        if "/" in span and not span.startswith("../") and not (ROOT / span.rstrip("/")).exists()
    )
    assert not missing, f"docs/architecture.md cites missing paths: {missing}"


def test_every_cited_name_occurs_in_the_source() -> None:
    words = source_words()
    missing = sorted(
        span
        for span in cited()
        if "/" not in span
        for part in re.findall(r"\w+", span)
        if part not in words
    )
    assert not missing, f"docs/architecture.md cites names the code no longer has: {missing}"


def test_the_checker_sees_what_the_document_cites() -> None:
    assert {"bot/output_files.py", "Service.handle_batch", "storage.transitions.move"} <= cited()
