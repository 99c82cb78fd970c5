"""A district secretariat's own files: the consolidated workbook and the zip of Phụ lục of its
district (the district and every unit beneath it), built by the same builders as the
province's, on the reports of that subtree only.

One small function each, so that `baocao export --scope HU-XX` (being added to the document
builders) can replace them in one place.
"""

from __future__ import annotations

import io
from datetime import datetime

from bot.cli.output_files import ascii_name
from bot.documents.workbooks import _load, export_filename
from conversations.errors import NotFound
from exports.data import load_signed
from exports.excel import write_consolidated_workbook, write_unit_workbooks
from storage.database import Database
from storage.repository import current_campaign


def _subtree(reports, unit_code: str) -> list:
    children: dict[str, list[str]] = {}
    for report in reports:
        if report.parent_code:
            children.setdefault(report.parent_code, []).append(report.code)
    wanted, stack = set(), [unit_code]
    while stack:
        code = stack.pop()
        if code not in wanted:
            wanted.add(code)
            stack.extend(children.get(code, []))
    found = [report for report in reports if report.code in wanted]
    if not any(report.code == unit_code for report in found):
        raise NotFound(f"đơn vị '{unit_code}' không tham gia đợt báo cáo")
    return found


def _stamp(info, now: datetime) -> str:
    return now.astimezone(info.zone).strftime("%Y%m%d-%H%M")


def district_workbook_bytes(database: Database, unit_code: str, now: datetime):
    """(file name, bytes): the consolidated workbook of `unit_code`'s subtree."""
    info, form, reports = _load(database, None, None)
    reports = _subtree(reports, unit_code)
    codes = {report.code for report in reports}
    with database.transaction() as session:
        signed = load_signed(session, current_campaign(session, info.code))
    buffer = io.BytesIO()
    write_consolidated_workbook(
        buffer,
        info,
        form,
        reports,
        now=now,
        unit_sheets=True,
        signed={code: files for code, files in signed.items() if code in codes},
    )
    name = f"{ascii_name(info.code).upper()}_tong-hop-{ascii_name(unit_code)}_{_stamp(info, now)}"
    return f"{name}.xlsx", buffer.getvalue()


def district_zip_bytes(database: Database, unit_code: str, now: datetime):
    """(file name, bytes): every Phụ lục of `unit_code`'s subtree in one zip."""
    info, form, reports = _load(database, None, None)
    reports = _subtree(reports, unit_code)
    buffer = io.BytesIO()
    write_unit_workbooks(
        buffer, info, form, reports, now=now, name=lambda r: export_filename(info, r.code, now)
    )
    name = f"{ascii_name(info.code).upper()}_phu-luc-{ascii_name(unit_code)}_{_stamp(info, now)}"
    return f"{name}.zip", buffer.getvalue()
