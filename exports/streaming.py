"""Cells and row heights as openpyxl's streaming (write-only) writer reads them, made cheaply.

A consolidated workbook writes about a million styled cells. openpyxl's own `WriteOnlyCell`
goes through its descriptors on creation and looks its style up in the workbook's style list
(hashing the style array) every time a cell is written; a row height builds a `RowDimension`
that is read back attribute by attribute. Here a cell is a plain slotted object carrying what
the writer reads (`coordinate`, `_value`, `data_type`, `has_style`, `style_id`, `_comment`,
`hyperlink`, `parent`), a style is looked up once per sheet's `StyleBook` entry, and each
distinct row height is turned into the row's XML attributes once. The file written is the
same: a style gets its number when first written, as openpyxl numbers it, and the attributes
come from openpyxl's own `RowDimension`.
"""

from __future__ import annotations

from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.dimensions import RowDimension


class SharedStyle:
    """One resolved look shared by many cells: its style array and, once a cell using it is
    written, its index in the workbook's cell styles."""

    __slots__ = ("array", "styled", "_registry", "_id")

    def __init__(self, array: StyleArray, workbook) -> None:
        self.array = array
        self.styled = any(array)
        self._registry = workbook._cell_styles
        self._id: int | None = None

    def id(self) -> int:
        if self._id is None:
            self._id = self._registry.add(self.array)  # numbered on first use, as openpyxl does
        return self._id


class StreamCell:
    """A cell for a write-only sheet: a value, a shared style, maybe a comment; positioned when
    its row is appended."""

    __slots__ = ("parent", "row", "column", "_value", "data_type", "_shared", "_comment")

    hyperlink = None

    def __init__(self, worksheet, style: SharedStyle | None = None) -> None:
        self.parent = worksheet
        self.row = self.column = 1
        self._value = None
        self.data_type = "n"
        self._shared = style
        self._comment = None

    @property
    def coordinate(self) -> str:
        return f"{get_column_letter(self.column)}{self.row}"

    @property
    def has_style(self) -> bool:
        return self._shared is not None and self._shared.styled

    @property
    def style_id(self) -> int:
        return self._shared.id() if self._shared is not None else 0

    @property
    def value(self) -> object:
        return self._value

    @property
    def comment(self):
        return self._comment

    @comment.setter
    def comment(self, comment) -> None:
        comment.bind(self)
        self._comment = comment


class RowHeights:
    """The `<row>` attributes of each distinct row height, computed once per sheet."""

    def __init__(self, worksheet) -> None:
        self._worksheet = worksheet
        self._attributes: dict[float, dict[str, str]] = {}

    def attributes(self, height: float) -> dict[str, str]:
        found = self._attributes.get(height)
        if found is None:
            found = self._attributes[height] = dict(RowDimension(self._worksheet, ht=height))
        return found
