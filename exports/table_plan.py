"""Which questions go to which biểu: the consolidated table cut into printed tables.

A Ban Dân vận officer files the consolidated figures as several biểu ("Biểu số 01", "Biểu số
02", …), each a table of its own on A4 landscape at 100 % (body text 11 pt), with the same unit
rows and only some of the form's questions. This module decides the split, from the form alone
(no Excel, no unit): `table_plan(form)` gives the biểu in order; `exports.consolidated` writes
one sheet per biểu.

The rule, in the order of the form's numbered parts (its top sections, "Mục" in the plan):

* a biểu holds whole Mục, never part of one: its title names them ("Mục 4. Công tác tiếp dân…");
* consecutive Mục share a biểu while their columns still fit one A4 width beside the unit
  columns (STT, name, status): a Mục of two figures is not worth a biểu, and its pages, of its
  own, when it fits beside its neighbour;
* a Mục too wide for one page is a biểu of its own, its columns cut into pages after whole
  questions (`page_breaks`), the unit columns and header rows printed again on every page;
* a form without sections (everything in one section) is one biểu, cut the same way;
* a biểu narrower than the page widens its figure columns to the page's width (at most four
  times): the heading's right block and the title then have room, and the table reads as a
  document's table, not as a strip on the left of the page.

The printed page's geometry lives here too, one place for it: the room beside the unit columns
(`ROOM`), where a wide biểu's pages end (`page_breaks`), and whether a block written next would be
cut by a page's end (`ends_a_page`, which keeps "Nơi nhận" and the signer together).

For the CT37 Phụ lục this gives Biểu số 01 (Mục 1, 2, 3: documents, inspection, administrative
reform), Biểu số 02 (Mục 4: reception, dialogue, complaints; three pages wide) and Biểu số 03
(Mục 5: supervision). Every question is in exactly one biểu, in the form's order within it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from conversations.forms import Form, Question, Section
from exports.figures import Column, question_columns

UNIT_HEADERS = (
    ("STT", 5),
    ("Tên đơn vị", 32),
    ("Tình trạng", 17),
)
UNIT_COLUMNS = len(UNIT_HEADERS)

# A4 landscape less the margins, in column-width units (a unit is about 7 px at 96 px/inch,
# plus 5 px of padding per column); the unit columns are printed again on every page.
PAGE_MARGIN = 0.4  # inch
PAGE_WIDTH = (11.69 - 2 * PAGE_MARGIN) * 96 / 7 * 0.95  # 5 % kept free: printers differ
PAGE_TOP, PAGE_BOTTOM = 0.5, 0.6  # inch
PAGE_HEIGHT = (8.27 - PAGE_TOP - PAGE_BOTTOM) * 72  # points of rows on one A4 landscape page


def printed_width(width: float) -> float:
    """A column's printed width: Excel adds 5 px of padding to every column."""
    return width + 5 / 7


ROOM = PAGE_WIDTH - sum(printed_width(width) for _, width in UNIT_HEADERS)
"""What one printed page leaves for the figures beside the unit columns."""
STRETCH = 4.0  # a biểu narrower than the page widens its columns up to this many times


@dataclass(frozen=True)
class Table:
    """One biểu: its number, the Mục it covers, their questions and columns."""

    number: int
    sections: tuple[Section, ...]
    questions: tuple[Question, ...]
    columns: tuple[Column, ...]

    @property
    def label(self) -> str:
        """ "Biểu số 01": the sheet's name and the line above its title."""
        return f"Biểu số {self.number:02}"

    @property
    def title(self) -> str:
        """The Mục it covers, in the form's words: "Mục 4. Công tác tiếp dân…" or
        "Mục 1. …; Mục 2. …"."""
        return "; ".join(section_heading(section) for section in self.sections)

    @property
    def breaks(self) -> list[int]:
        return page_breaks(list(self.columns))


def totals_table(form: Form) -> tuple[str, str]:
    """(number, pointer) of the province's (or district's) totals table in a consolidated Word
    report: numbered after the workbook's biểu, since both are annexes of the same report, and
    the line that sends the reader to the biểu for each unit's figures."""
    count = len(table_plan(form))
    last = f"Biểu số {count:02}"
    units = "Biểu số 01" if count == 1 else f"Biểu số 01 đến {last}"
    return f"Biểu số {count + 1:02}", f"(Số liệu của từng đơn vị: {units} kèm theo.)"


def section_heading(section: Section) -> str:
    """ "Mục 4. Công tác tiếp dân…", "Mục A. …"; section "0" (the questions outside any
    group of an imported form, "Thông tin chung") by its title alone."""
    if section.key == "0":
        return section.title
    return f"Mục {section.key}. {section.title}"


def _width(columns: list[Column]) -> float:
    return sum(printed_width(column.width) for column in columns)


def table_plan(form: Form) -> list[Table]:
    """The form's questions split into biểu, following the rule of the module's docstring."""
    parts: dict[str, list[Question]] = {}  # top section key -> its questions, in form order
    for question in form.questions:
        parts.setdefault(form.top_section(question.section).key, []).append(question)
    groups: list[list[str]] = []
    used = 0.0
    for key, questions in parts.items():
        width = _width([c for q in questions for c in question_columns(q)])
        if groups and used + width <= ROOM:
            groups[-1].append(key)
            used += width
        else:
            groups.append([key])
            used = width
    tables = []
    for number, keys in enumerate(groups, start=1):
        questions = tuple(q for key in keys for q in parts[key])
        columns = [c for q in questions for c in question_columns(q)]
        tables.append(
            Table(
                number=number,
                sections=tuple(form.section(key) for key in keys),
                questions=questions,
                columns=tuple(_stretched(columns)),
            )
        )
    return tables


def _stretched(columns: list[Column]) -> list[Column]:
    """`columns` widened in proportion to fill one page, when they take less."""
    width = _width(columns)
    if width >= ROOM:
        return columns
    padding = printed_width(0) * len(columns)
    factor = min(STRETCH, (ROOM - padding) / (width - padding))
    return [replace(column, width=round(column.width * factor, 1) - 0.1) for column in columns]


def page_breaks(columns: list[Column]) -> list[int]:
    """The sheet columns after which a printed page ends, so that every page of a biểu is A4
    landscape at 100 %: the unit columns, then as many whole questions as fit."""
    breaks: list[int] = []
    used, index = 0.0, 0
    while index < len(columns):
        question = columns[index].question
        end = index
        while end < len(columns) and columns[end].question is question:
            end += 1
        width = _width(columns[index:end])
        if used and used + width > ROOM:
            breaks.append(UNIT_COLUMNS + index)
            used = 0.0
        used += width
        index = end
    return breaks


def ends_a_page(heights: list[float], repeated: tuple[int, int], block: float) -> bool:
    """Whether a block `block` points high, written after rows of `heights` (points), would
    be cut by the end of a page: then the sheet breaks the page before it, so that "Nơi nhận"
    and the signer are printed together. Pages are filled as a spreadsheet prints them: whole
    rows while they fit, each page after the first starting with the `repeated` rows (first,
    last; 1-based)."""
    titles = sum(heights[repeated[0] - 1 : repeated[1]])
    used = 0.0
    for height in heights:
        if used + height > PAGE_HEIGHT:
            used = titles
        used += height
    return used + block > PAGE_HEIGHT
