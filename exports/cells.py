"""Cell-level building blocks shared by every sheet: safe text, styles, sheet names, layout.

* Safety: text typed by users is always written as a string cell (`data_type = "s"`), so
  "=1+1", "+84 123", "-SUM(A1)", "@cmd" or "#N/A" never become a formula, an error value or a
  link; control characters Excel refuses are removed, and text is cut at Excel's cell limit.
* Speed: all sheets are streamed with openpyxl's write-only mode. A style is resolved once per
  workbook into a `SharedStyle` that cells share, instead of assigning font, border, fill… to
  every cell (which is what makes styled openpyxl exports slow); cells and row heights are the
  light ones of `exports.streaming`.
* Sheet names: valid (31 characters, none of `/ \\ ? * [ ] :`, no edge apostrophes) and unique
  (case-insensitively, "History" reserved), whatever the unit names or codes are.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import date, datetime

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils.indexed_list import IndexedList
from openpyxl.worksheet.cell_range import CellRange, MultiCellRange

from conversations.formatting import decimal_text
from exports.streaming import RowHeights, SharedStyle, StreamCell

FONT_NAME = "Times New Roman"
MAX_CELL_CHARS = 32_767
MAX_SHEET_NAME = 31
PAPER_A4 = "9"  # Worksheet.PAPERSIZE_A4 (not available on write-only sheets)
PAPER_A3 = "8"
FOOTER_FONT = f"{FONT_NAME},Regular"


def use_document_font(workbook) -> None:
    """Make Times New Roman the workbook's default font (style 0; Calibri in openpyxl): column
    widths are counted in the default font's digits, so the printed widths the page plans
    assume hold on a machine without Calibri or its metric twin."""
    workbook._fonts = IndexedList([Font(name=FONT_NAME, size=11, family=1)])


def grouped_format(before: str = "", after: str = "") -> str:
    """A count's number format with the thousands dot written as a literal, so 12345 prints
    "12.345" whatever the locale of the machine that opens or prints the workbook (a "#,##0"
    prints "12,345" under LANG=C or en_US). `before`/`after` are already-quoted literals."""
    return (
        f'[>=1000000]{before}#"."###"."###{after};[>=1000]{before}#"."###{after};{before}0{after}'
    )


INTEGER_FORMAT = grouped_format()
# The slashes are literals: a bare "/" is the locale's date separator in a format code.
DATE_FORMAT = r"dd\/mm\/yyyy"
DATETIME_FORMAT = r"dd\/mm\/yyyy hh:mm"

UNANSWERED_FILL = "FFF4D6"  # light yellow: asked, not answered yet
NOT_ASKED_FILL = "E7E6E6"  # grey: the question is not asked of this unit's level
HEADER_FILL = "DDEBF7"
GROUP_FILL = "F2F2F2"
TOTAL_FILL = "FCE4D6"

_THIN = Side(style="thin", color="808080")
_DOTTED = Side(style="dotted", color="808080")
BORDERS = {
    "none": Border(),
    "thin": Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN),
    "dotted": Border(bottom=_DOTTED),
}


# --- text ------------------------------------------------------------------------------------


def clean_text(text: object) -> str:
    """A string Excel accepts: illegal control characters removed, at most 32,767 characters."""
    text = ILLEGAL_CHARACTERS_RE.sub("", str(text))
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - 1] + "…"
    return text


def grouped(number: int) -> str:
    """A count written the Vietnamese way: 10000 -> "10.000"."""
    return f"{number:,}".replace(",", ".")


def percent_text(value: float) -> str:
    """A percentage as printed text, one decimal rounded half up, decimal comma: "89,0%".
    Text, not a number format: a format's decimal sign follows the viewer's locale."""
    return decimal_text(value, 1) + "%"


def format_quote(text: str) -> str:
    """A unit word safe inside a quoted number-format literal ("đoàn", "lượt người")."""
    return re.sub(r'["\\\x00-\x1f]', "", text).strip()


PAGE_NUMBER = "Trang &P"
"""The page number of a printed sheet. Each sheet numbers its own pages from 1 (set by
`set_footer`); no "of N": LibreOffice's &N counts the pages of the whole workbook, Excel's those
of the sheet, and a biểu of 3 pages must not say "Trang 1/24"."""


def set_footer(ws, left: str, right: str = PAGE_NUMBER, size: float = 9) -> None:
    """Page footer in Times New Roman: `left` is literal text, `right` may use &P. The sheet's
    pages are numbered from 1, whatever sheets are printed before it."""
    ws.page_setup.firstPageNumber, ws.page_setup.useFirstPageNumber = 1, True
    ws.oddFooter.left.text = footer_text(left)
    ws.oddFooter.right.text = right
    for part in (ws.oddFooter.left, ws.oddFooter.right):
        part.size = size
        part.font = FOOTER_FONT


def footer_text(text: str) -> str:
    """Literal text for a page header/footer: `&` escaped, short enough for Excel's limit."""
    text = clean_text(text).replace("\n", " ").replace("\r", " ")
    if len(text) > 100:
        text = text[:99] + "…"
    return text.replace("&", "&&")


# --- styles ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellStyle:
    """Everything a cell's look depends on; hashable, so each distinct look is resolved once."""

    bold: bool = False
    italic: bool = False
    underline: bool = False
    size: float = 11
    color: str | None = None
    fill: str | None = None
    border: str = "thin"
    horizontal: str | None = None
    vertical: str = "center"
    wrap: bool = False
    indent: int = 0
    number_format: str = "General"

    def but(self, **changes: object) -> CellStyle:
        return replace(self, **changes)


class StyleBook:
    """Turns `CellStyle`s into shared styles of one workbook (cached)."""

    def __init__(self, worksheet) -> None:
        # Any worksheet of the workbook will do: styles are registered with its parent.
        self._template_sheet = worksheet
        self._arrays: dict[CellStyle, SharedStyle] = {}

    def array(self, style: CellStyle) -> SharedStyle:
        found = self._arrays.get(style)
        if found is None:
            cell = Cell(self._template_sheet)
            cell.font = Font(
                name=FONT_NAME,
                size=style.size,
                bold=style.bold,
                italic=style.italic,
                underline="single" if style.underline else None,
                color=style.color,
            )
            cell.border = BORDERS[style.border]
            if style.fill:
                cell.fill = PatternFill("solid", start_color=style.fill, end_color=style.fill)
            cell.alignment = Alignment(
                horizontal=style.horizontal,
                vertical=style.vertical,
                wrap_text=style.wrap or None,
                indent=style.indent,
            )
            cell.number_format = style.number_format
            found = self._arrays[style] = SharedStyle(cell._style, self._template_sheet.parent)
        return found


def make_cell(worksheet, value: object, style: SharedStyle | None = None) -> StreamCell:
    """A cell for a write-only sheet; strings are always text, never formulas or links."""
    cell = StreamCell(worksheet, style)
    set_value(cell, value)
    return cell


def note_comment(note: str) -> Comment:
    """An officer's note on an answer, as a cell comment (comments hold plain text: no formula)."""
    comment = Comment(f"Ghi chú của đơn vị: {note}", "baocao")
    comment.width, comment.height = 260, 90
    return comment


def set_value(cell: StreamCell, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            value = str(value)
        else:
            cell._value = value
            cell.data_type = "n"
            return
    if isinstance(value, datetime | date):
        if isinstance(value, datetime) and value.tzinfo is not None:
            raise ValueError("aware datetime given to a cell: convert to local time first")
        cell._value = value
        cell.data_type = "d"
        return
    cell._value = clean_text(value)
    cell.data_type = "s"


# --- sheet names -----------------------------------------------------------------------------

_FORBIDDEN_IN_SHEET_NAME = re.compile(r"[/\\?*\[\]:\x00-\x1f]")


class SheetNames:
    """Hands out valid, unique (case-insensitive) worksheet names."""

    def __init__(self) -> None:
        self._taken: set[str] = {"history"}  # reserved by Excel

    def unique(self, wanted: str) -> str:
        base = _FORBIDDEN_IN_SHEET_NAME.sub("-", clean_text(wanted))
        base = " ".join(base.split()).strip("'").strip() or "Trang"
        base = base[:MAX_SHEET_NAME].rstrip("'").strip() or "Trang"
        name, number = base, 1
        while name.casefold() in self._taken:
            number += 1
            suffix = f" ({number})"
            name = base[: MAX_SHEET_NAME - len(suffix)].rstrip("'").rstrip() + suffix
        self._taken.add(name.casefold())
        return name


# --- layout ----------------------------------------------------------------------------------


def text_lines(text: str, width: float, size: float = 11, *, bold: bool = False) -> int:
    """How many lines a wrapped text takes in a cell `width` characters wide (an estimate).

    Calibrated on Times New Roman (Liberation Serif in LibreOffice): about 1.4 characters of
    Vietnamese text per unit of column width at 12 pt; words are wrapped whole, as Excel does.
    """
    capacity = max(4.0, (width - 1) * 1.4 * 12 / size * (0.9 if bold else 1.0))
    total = 0
    for paragraph in str(text).split("\n"):
        lines, used = 1, 0.0
        for word in paragraph.split():
            if used and used + 1 + len(word) > capacity:
                lines += 1
                used = 0.0
            used = used + 1 + len(word) if used else float(len(word))
            while used > capacity:  # a word longer than the line breaks inside
                lines += 1
                used -= capacity
        total += lines
    return total


DEFAULT_ROW_HEIGHT = 15.0  # points: a row written without a height (openpyxl's default)


def line_height(size: float) -> float:
    """Row height in points for one line of text at font `size`."""
    return round(size * 1.25 + 0.5, 1)  # 15.5 pt at 12 pt, Excel's own row height for it


def to_local_naive(moment: datetime | None, zone) -> datetime | None:
    """An aware time as Excel wants it: in the campaign's time zone, without tzinfo."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def iso_date(text: object) -> date | None:
    """A document date stored as "YYYY-MM-DD", or None when missing or malformed."""
    if not isinstance(text, str):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def release(worksheet) -> None:
    """Drop what a closed write-only sheet no longer needs (its XML is already written).

    Row heights and merged ranges are kept by openpyxl until the workbook is saved; with
    hundreds of unit sheets that adds up, so they are released as soon as a sheet is closed.
    """
    worksheet.row_dimensions.clear()
    worksheet.column_dimensions.clear()
    worksheet.merged_cells = MultiCellRange()


class RowWriter:
    """Appends rows to a write-only sheet, with the row heights and merges each row needs."""

    def __init__(self, worksheet, styles: StyleBook, *, measure: bool = False) -> None:
        """`measure`: keep every row's height in points (`heights`), for a sheet that places
        a page break itself."""
        self.ws = worksheet
        self.styles = styles
        self.row = 0
        self.heights: list[float] | None = [] if measure else None
        self._rows = RowHeights(worksheet)
        # openpyxl would take each appended item for a value to wrap in a cell of its own;
        # rows here hold only our cells (`exports.streaming`) or None: position them directly.
        worksheet._values_to_row = _cells_to_row

    def cell(self, value: object, style: CellStyle) -> StreamCell:
        return make_cell(self.ws, value, self.styles.array(style))

    def append(
        self,
        cells: list,
        *,
        height: float | None = None,
        merges: tuple[tuple[int, int], ...] | list[tuple[int, int]] = (),
    ) -> int:
        """Write the next row; `merges` are (first column, last column) spans within it."""
        self.row += 1
        if height:
            # the writer copies a row's attributes from here when the row is appended
            self.ws.row_dimensions[self.row] = self._rows.attributes(height)
        if self.heights is not None:
            self.heights.append(height or DEFAULT_ROW_HEIGHT)
        for first, last in merges:
            if last > first:
                self.merge(first, self.row, last, self.row)
        self.ws.append(cells)
        return self.row

    def merge(self, min_col: int, min_row: int, max_col: int, max_row: int) -> None:
        self.ws.merged_cells.add(
            CellRange(min_col=min_col, min_row=min_row, max_col=max_col, max_row=max_row)
        )


def _cells_to_row(cells, row_index: int):
    for column_index, cell in enumerate(cells, 1):
        if cell is not None:
            cell.column = column_index
            cell.row = row_index
            yield cell
