"""What every XLSForm sheet reader shares: a row with its spreadsheet number, and the refusal
naming sheet, row and column."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conversations.forms import FormError


class XLSFormError(FormError):
    """A workbook that cannot be imported; the message names sheet, row and column."""


@dataclass
class Row:
    number: int
    cells: dict[str, Any]

    def text(self, column: str) -> str:
        value = self.cells.get(column)
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value).strip()


def fail(sheet: str, row: int | None, column: str | None, what: str) -> XLSFormError:
    where = f"trang «{sheet}»"
    if row is not None:
        where += f", dòng {row}"
    if column:
        where += f", cột «{column}»"
    return XLSFormError(f"{where}: {what}")
