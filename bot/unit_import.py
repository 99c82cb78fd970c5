"""Reading the unit list an operator imports (CSV or XLSX) and checking every row.

Header `code,name,level,parent_code,group`, optionally followed by the heading and signer of
the unit's printed documents: `superior,heading_name,place,signer_for,signer_title,symbol`
(symbol: the ký hiệu of its documents, "HU" in "Số …-BC/HU"; when absent it is derived from the
unit's kind, `exports.letterhead`); CSV in UTF-8 with or without BOM. Every bad row is reported
with its line number and nothing is imported unless the whole file is good.

Files come from outside, so they are read within limits before anything is loaded: the file's
size, an XLSX's declared unpacked size (a few KB of zip can unpack to gigabytes), and the number of
rows, counted while streaming. Control characters are refused with the line and field named.

`existing_codes` are the units already stored; given as a mapping code -> parent code, their
parents are also followed when looking for a cycle (A under B, B under A).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from itertools import islice
from pathlib import Path

from openpyxl import load_workbook

from conversations.text import control_characters
from exports.xlsx_unpacked import MAX_UNPACKED_BYTES, megabytes, unpacked_size
from storage.repository import UNIT_DOCUMENT_FIELDS, UnitRow

BASE_COLUMNS = ("code", "name", "level", "parent_code", "group")
COLUMNS = BASE_COLUMNS + UNIT_DOCUMENT_FIELDS
REQUIRED = ("code", "name", "level")
LEVELS = ("tinh", "so_nganh", "huyen", "xa")
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
GROUP = re.compile(r"^[a-z0-9_]{1,40}$")
MAX_ROWS = 50_000
DOCUMENT_LIMITS = {
    "superior": 200,
    "heading_name": 200,
    "place": 100,
    "signer_for": 100,
    "signer_title": 100,
    "symbol": 20,
}
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_COLUMNS = 20


class UnitFileError(ValueError):
    """A unit file that cannot be imported; `problems` lists "dòng N: …" lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


Existing = Collection[str] | Mapping[str, str]


def read_unit_file(path: str | Path, existing_codes: Existing = frozenset()) -> list[UnitRow]:
    path = Path(path)
    if not path.is_file():
        raise UnitFileError([f"không tìm thấy tệp {path}"])
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise UnitFileError([f"{path.name}: tệp lớn quá {megabytes(MAX_FILE_BYTES)}"])
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _check_xlsx(path, existing_codes)
    if path.suffix.lower() in (".csv", ".txt"):
        return check_rows(_csv_records(path), existing_codes)
    raise UnitFileError([f"{path.name}: chỉ nhận tệp .csv hoặc .xlsx"])


def _csv_records(path: Path) -> list[list[str]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnitFileError([f"{path.name}: tệp CSV phải mã hóa UTF-8"]) from None
    try:
        # One more than the limit is enough to know the file is too long.
        return list(islice(csv.reader(io.StringIO(text)), MAX_ROWS + 2))
    except csv.Error as error:
        raise UnitFileError([f"{path.name}: CSV hỏng ({error})"]) from None


def _check_xlsx(path: Path, existing_codes: Existing) -> list[UnitRow]:
    _check_unpacked_size(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a broken file
        raise UnitFileError(
            [f"{path.name}: không mở được tệp Excel ({type(error).__name__})"]
        ) from None
    try:
        return check_rows(_xlsx_records(workbook.worksheets[0]), existing_codes)
    finally:
        workbook.close()


def _check_unpacked_size(path: Path) -> None:
    unpacked = unpacked_size(path)
    if unpacked is None:
        raise UnitFileError([f"{path.name}: không mở được tệp Excel (không phải tệp .xlsx)"])
    if unpacked.too_big:
        raise UnitFileError(
            [
                f"{path.name}: nội dung tệp Excel khi giải nén lớn quá "
                f"{megabytes(MAX_UNPACKED_BYTES)}; danh sách đơn vị chỉ cần vài trăm KB — "
                "lưu lại chỉ trang tính danh sách rồi thử lại"
            ]
        )


def _xlsx_records(sheet) -> Iterator[list[str]]:
    for row in sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS):
        yield ["" if cell is None else str(cell).strip() for cell in row]


def check_rows(
    records: Iterable[list[str]], existing_codes: Existing = frozenset()
) -> list[UnitRow]:
    """Check every row (streamed: reading stops as soon as the file has too many)."""
    records = iter(records)
    first = next(records, None)
    if first is None:
        raise UnitFileError(["tệp trống: cần dòng tiêu đề " + ",".join(BASE_COLUMNS)])
    header = [cell.strip().lower() for cell in first]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c and c not in COLUMNS]
    if missing or unknown:
        return _fail(
            f"dòng 1: tiêu đề phải là {','.join(BASE_COLUMNS)} "
            f"(thêm nếu cần: {','.join(UNIT_DOCUMENT_FIELDS)})",
            missing,
            unknown,
        )
    problems: list[str] = []
    rows: list[tuple[int, UnitRow]] = []
    seen: dict[str, int] = {}
    for line, record in enumerate(records, start=2):
        if line - 1 > MAX_ROWS:
            raise UnitFileError([f"tệp có quá {MAX_ROWS} dòng"])
        if not any(cell.strip() for cell in record):
            continue
        values = {name: "" for name in COLUMNS}
        for name, cell in zip(header, record, strict=False):
            if name:
                values[name] = cell.strip()
        controls = [_control_problem(line, name, value) for name, value in values.items()]
        if any(controls):
            problems += [problem for problem in controls if problem]
            continue
        row = UnitRow(**values)
        problems += [f"dòng {line}: {p}" for p in _row_problems(row)]
        if row.code.upper() in seen:
            problems.append(f"dòng {line}: mã {row.code} trùng với dòng {seen[row.code.upper()]}")
        seen.setdefault(row.code.upper(), line)
        rows.append((line, row))
    known = {code.upper() for code in existing_codes} | set(seen)
    for line, row in rows:
        if row.parent_code and row.parent_code.upper() == row.code.upper():
            problems.append(f"dòng {line}: đơn vị không thể là cấp trên của chính nó")
        elif row.parent_code and row.parent_code.upper() not in known:
            problems.append(f"dòng {line}: không có đơn vị cấp trên mã {row.parent_code}")
    problems += _cycles(rows, existing_codes)
    if not rows and not problems:
        problems.append("tệp không có dòng đơn vị nào")
    if problems:
        raise UnitFileError(problems)
    return [row for _, row in rows]


def _control_problem(line: int, column: str, value: str) -> str | None:
    """A unit list is an official record: a stray control character is fixed at its source."""
    found = control_characters(value) + (["xuống dòng"] if "\n" in value else [])
    if not found:
        return None
    named = ", ".join(found)
    return f"dòng {line}: cột {column} có ký tự điều khiển ({named}); đề nghị gõ lại ô này"


def _row_problems(row: UnitRow) -> list[str]:
    problems = []
    if not CODE.match(row.code):
        problems.append(f"mã đơn vị '{row.code[:50]}' không hợp lệ (chữ, số, . - _; tối đa 40)")
    if not row.name or len(row.name) > 250:
        problems.append("tên đơn vị trống hoặc dài quá 250 ký tự")
    if row.level not in LEVELS:
        problems.append(f"cấp '{row.level[:30]}' không hợp lệ; dùng một trong {', '.join(LEVELS)}")
    if row.group and not GROUP.match(row.group):
        problems.append(f"nhóm '{row.group[:50]}' không hợp lệ (chữ thường không dấu, số, _)")
    for name, limit in DOCUMENT_LIMITS.items():
        if len(getattr(row, name)) > limit:
            problems.append(f"cột {name} dài quá {limit} ký tự")
    return problems


def _cycles(rows: list[tuple[int, UnitRow]], existing: Existing) -> list[str]:
    """Rows whose chain of parents comes back to themselves (A under B, B under A)."""
    parents: dict[str, str] = {}
    names: dict[str, str] = {}
    if isinstance(existing, Mapping):
        for code, parent in existing.items():
            names[code.upper()] = code
            if parent:
                parents[code.upper()] = parent.upper()
    for _, row in rows:
        names[row.code.upper()] = row.code
        parents[row.code.upper()] = row.parent_code.upper()
    problems = []
    for line, row in rows:
        start = row.code.upper()
        chain = [start]
        code = parents.get(start)
        while code and code not in chain:
            chain.append(code)
            code = parents.get(code)
        if code == start and len(chain) > 1:
            path = " → ".join(names.get(c, c) for c in [*chain, start])
            problems.append(f"dòng {line}: cấp trên tạo thành vòng lặp ({path})")
    return problems


def _fail(message: str, missing: list[str], unknown: list[str]) -> list[UnitRow]:
    details = []
    if missing:
        details.append("thiếu cột " + ", ".join(missing))
    if unknown:
        details.append("cột lạ " + ", ".join(unknown))
    raise UnitFileError([f"{message} ({'; '.join(details)})"])
