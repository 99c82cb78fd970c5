"""Reading the unit list an operator imports (CSV or XLSX) and checking every row.

Header `code,name,level,parent_code,group`, optionally followed by the heading and signer of
the unit's printed Phụ lục: `superior,heading_name,place,signer_for,signer_title`; CSV in UTF-8
with or without BOM. Every bad row is reported with its line number and nothing is imported
unless the whole file is good.

`existing_codes` are the units already stored; given as a mapping code -> parent code, their
parents are also followed when looking for a cycle (A under B, B under A).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Mapping
from pathlib import Path

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
}


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
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        records = _xlsx_records(path)
    elif path.suffix.lower() in (".csv", ".txt"):
        records = _csv_records(path)
    else:
        raise UnitFileError([f"{path.name}: chỉ nhận tệp .csv hoặc .xlsx"])
    return check_rows(records, existing_codes)


def _csv_records(path: Path) -> list[list[str]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnitFileError([f"{path.name}: tệp CSV phải mã hóa UTF-8"]) from None
    try:
        return list(csv.reader(io.StringIO(text)))
    except csv.Error as error:
        raise UnitFileError([f"{path.name}: CSV hỏng ({error})"]) from None


def _xlsx_records(path: Path) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a broken file
        raise UnitFileError(
            [f"{path.name}: không mở được tệp Excel ({type(error).__name__})"]
        ) from None
    try:
        sheet = workbook.worksheets[0]
        return [
            ["" if cell is None else str(cell).strip() for cell in row]
            for row in sheet.iter_rows(values_only=True)
        ]
    finally:
        workbook.close()


def check_rows(records: list[list[str]], existing_codes: Existing = frozenset()) -> list[UnitRow]:
    if not records:
        raise UnitFileError(["tệp trống: cần dòng tiêu đề " + ",".join(BASE_COLUMNS)])
    header = [cell.strip().lower() for cell in records[0]]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c and c not in COLUMNS]
    if missing or unknown:
        return _fail(
            f"dòng 1: tiêu đề phải là {','.join(BASE_COLUMNS)} "
            f"(thêm nếu cần: {','.join(UNIT_DOCUMENT_FIELDS)})",
            missing,
            unknown,
        )
    if len(records) - 1 > MAX_ROWS:
        raise UnitFileError([f"tệp có quá {MAX_ROWS} dòng"])
    problems: list[str] = []
    rows: list[tuple[int, UnitRow]] = []
    seen: dict[str, int] = {}
    for line, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue
        values = {name: "" for name in COLUMNS}
        for name, cell in zip(header, record, strict=False):
            if name:
                values[name] = cell.strip()
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
