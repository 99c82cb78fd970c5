"""The frame of a printed Party document (Hướng dẫn 36-HD/VPTW, 03/4/2018) on a worksheet.

Top: the issuing body on the left (superior body, the body in bold capitals, "*" beneath, the
document number) and "ĐẢNG CỘNG SẢN VIỆT NAM" on the right, underlined as its rule, with the
italic place-and-date line beneath. Bottom: "Nơi nhận" on the left and the signer block on the
right (authority, position, room to sign, name). All words come from the one letterhead
(`exports.letterhead`, shared with the Word drafts); this module only places them.

The left block takes the first columns up to about 45 % of the printed width, the right block
the rest, so the heading sits on the first printed page of a sheet fitted to one page wide.
"""

from __future__ import annotations

from datetime import datetime

from exports.cells import CellStyle, RowWriter, line_height, text_lines
from exports.letterhead import Letterhead

SIZE = 13
_PLAIN = CellStyle(size=SIZE, border="none", horizontal="center", vertical="center", wrap=True)
SUPERIOR = _PLAIN
BODY = _PLAIN.but(bold=True)
PARTY = _PLAIN.but(bold=True, underline=True)
DATE_LINE = _PLAIN.but(italic=True)
NUMBER = _PLAIN
RECEIVERS_HEAD = _PLAIN.but(bold=True, italic=True, horizontal="left", size=12)
RECEIVER = _PLAIN.but(horizontal="left", size=11)
SIGNER = _PLAIN.but(bold=True)
SIGNER_NAME = _PLAIN.but(bold=True)


class DocumentFrame:
    """Places a letterhead on a sheet whose columns have `widths`."""

    def __init__(self, widths: list[float], left_share: float = 0.45, *, repeated: int = 0) -> None:
        """`repeated`: the first columns are printed again on every page (print titles), so
        the left block takes exactly those and every full-width line starts after them: no
        piece of the heading or title is repeated on the following pages."""
        self.widths = widths
        self.columns = len(widths)
        self.first = repeated + 1 if repeated else 1
        total, running, split = sum(widths), 0.0, 1
        for index, width in enumerate(widths, start=1):
            running += width
            split = index
            if running >= total * left_share:
                break
        if repeated:
            split = repeated
        self.split = min(max(split, 1), self.columns - 1)
        self.left = (1, self.split)
        self.right = (self.split + 1, self.columns)

    def _width(self, span: tuple[int, int]) -> float:
        return sum(self.widths[span[0] - 1 : span[1]])

    def _pair(self, out: RowWriter, left, right) -> None:
        """One row: `left` and `right` are (text, style) or None, each merged over its block."""
        cells: list = [None] * self.columns
        lines = 1
        for part, span in ((left, self.left), (right, self.right)):
            if part is None:
                continue
            text, style = part
            cells[span[0] - 1] = out.cell(text, style)
            lines = max(lines, text_lines(text, self._width(span), style.size, bold=style.bold))
        size = max((p[1].size for p in (left, right) if p is not None), default=SIZE)
        out.append(cells, height=lines * line_height(size), merges=[self.left, self.right])

    def full(self, out: RowWriter, text: str, style: CellStyle) -> None:
        # estimated on 75 % of the width: a line cut off on paper is worse than a spare one
        width = sum(self.widths[self.first - 1 :]) * 0.75
        lines = text_lines(text, width, style.size, bold=style.bold)
        cells = [None] * (self.first - 1) + [out.cell(text, style)]
        cells += [None] * (self.columns - self.first)
        height = lines * line_height(style.size)
        out.append(cells, height=height, merges=[(self.first, self.columns)])

    @staticmethod
    def top_rows(head: Letterhead) -> int:
        """How many rows `top` writes (a sheet's frozen panes must be known before any row)."""
        return 4 + (1 if head.number else 0)

    def top(self, out: RowWriter, head: Letterhead, now: datetime) -> None:
        self._pair(out, (head.superior, SUPERIOR), (head.party, PARTY))
        self._pair(out, (head.body, BODY), None)
        self._pair(out, ("*", _PLAIN), (head.date_line(now), DATE_LINE))
        if head.number:
            self._pair(out, (head.number, NUMBER), None)
        out.append([], height=8)

    def bottom(self, out: RowWriter, head: Letterhead) -> None:
        out.append([], height=8)
        lines: list[tuple[object, object]] = []
        left = [("Nơi nhận:", RECEIVERS_HEAD)] + [(f"- {r}", RECEIVER) for r in head.recipients]
        right = [(text, SIGNER) for text in (head.signer_for, head.signer_title) if text]
        right += [None, None, None]  # room for the signature and the seal
        right.append((head.signer_name, SIGNER_NAME) if head.signer_name else None)
        for index in range(max(len(left), len(right))):
            lines.append(
                (
                    left[index] if index < len(left) else None,
                    right[index] if index < len(right) else None,
                )
            )
        for left_part, right_part in lines:
            self._pair(out, left_part, right_part)
