"""A district's own documents: its communes' table and its consolidated draft (`--scope HU-XX`).

A Huyện ủy collects its communes' reports before it writes its own. `district_workbook_bytes`
gives it the biểu of its communes under its own heading, its own figures as the
total and the communes' sum beside them; `district_report_bytes` the consolidated Word draft of
the same units. Both are built from one snapshot (`bot.documents.snapshot`) cut down to the unit
and the units beneath it, by the same builders as the province's documents. The command line
(`baocao export --scope`, `baocao report --scope`) and the web page's «Tải về» call these;
`district_zip_bytes` is the district's own `export --per-unit`, for the web page.
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from bot.documents.snapshot import Snapshot, load_snapshot
from bot.documents.word_reports import check_report_path, consolidated_totals
from bot.documents.workbooks import check_output_path, export_filename
from bot.output_files import ascii_name, replaced_atomically
from exports.consolidation import UnitTree, left_out, left_out_text
from exports.excel import write_consolidated_workbook, write_unit_workbooks
from exports.letterhead import unit_letterhead
from exports.report_docx import build_consolidated_report
from storage.database import Database
from storage.repository import StorageError


def scoped(snapshot: Snapshot, code: str) -> Snapshot:
    """The snapshot cut down to `code` and every unit beneath it, the unit first."""
    district = snapshot.unit(code)
    tree = UnitTree(snapshot.units)
    units = [unit for unit, _ in tree.walk(district)]
    if len(units) == 1:
        raise StorageError(f"đơn vị '{district.code}' không có đơn vị trực thuộc tham gia đợt này")
    return replace(snapshot, units=units)


def _snapshot(database: Database, code: str, campaign_id, campaign_code, *, outline: bool):
    snapshot = load_snapshot(
        database,
        campaign_id=campaign_id,
        campaign_code=campaign_code,
        signed=not outline,
        outline=outline,
    )
    return scoped(snapshot, code)


def _name(snapshot: Snapshot, what: str, extension: str, now: datetime) -> str:
    stamp = now.astimezone(snapshot.info.zone).strftime("%Y%m%d-%H%M")
    code = ascii_name(snapshot.info.code).upper()
    return f"{code}_{what}_{ascii_name(snapshot.units[0].code)}_{stamp}.{extension}"


def district_workbook_bytes(
    database: Database,
    code: str,
    *,
    now: datetime,
    campaign_id: int | None = None,
    campaign_code: str | None = None,
) -> tuple[str, bytes]:
    """(file name, .xlsx bytes): the district's table of its communes. Raises `StorageError`
    for an unknown unit or one with no unit beneath it."""
    snapshot = _snapshot(database, code, campaign_id, campaign_code, outline=False)
    buffer = io.BytesIO()
    write_consolidated_workbook(
        buffer,
        snapshot.info,
        snapshot.form,
        snapshot.units,
        now=now,
        signed=snapshot.signed,
        district=snapshot.units[0],
    )
    return _name(snapshot, "tong-hop", "xlsx", now), buffer.getvalue()


def district_zip_bytes(
    database: Database,
    code: str,
    *,
    now: datetime,
    campaign_id: int | None = None,
    campaign_code: str | None = None,
) -> tuple[str, bytes]:
    """(file name, .zip bytes): the Phụ lục of the district and of each unit beneath it."""
    snapshot = _snapshot(database, code, campaign_id, campaign_code, outline=False)
    info = snapshot.info
    buffer = io.BytesIO()
    write_unit_workbooks(
        buffer,
        info,
        snapshot.form,
        snapshot.units,
        now=now,
        name=lambda report: export_filename(info, report.code, now),
    )
    return _name(snapshot, "phu-luc", "zip", now), buffer.getvalue()


def district_report_bytes(
    database: Database,
    code: str,
    *,
    now: datetime,
    campaign_id: int | None = None,
    campaign_code: str | None = None,
) -> tuple[str, bytes]:
    """(file name, .docx bytes): the district's consolidated draft of its own units."""
    snapshot = _snapshot(database, code, campaign_id, campaign_code, outline=True)
    district = snapshot.units[0]
    totals, counted = consolidated_totals(snapshot.form, snapshot.units)
    data = build_consolidated_report(
        snapshot.info,
        snapshot.outline,
        snapshot.form,
        totals=totals,
        units=snapshot.units,
        counted=counted,
        letterhead=unit_letterhead(snapshot.info, district),
        left_out=left_out_text(left_out(UnitTree(snapshot.units))),
        now=now,
    )
    return _name(snapshot, "bao-cao-tong-hop", "docx", now), data


def district_to_file(app, output: str | os.PathLike, code: str, *, word: bool, campaign_code=None):
    """`baocao export --scope MÃ --output TỆP.xlsx` / `baocao report --scope MÃ --output
    TỆP.docx`; returns the exit code."""
    problem = check_report_path(output) if word else check_output_path(output)
    if problem:
        print(f"baocao: {problem}", file=sys.stderr)
        return 1
    build = district_report_bytes if word else district_workbook_bytes
    _, data = build(app.database, code, now=app.clock(), campaign_code=campaign_code)
    path = Path(output)
    try:
        with replaced_atomically(path) as stream:
            stream.write(data)
    except OSError as error:
        print(f"baocao: không ghi được {path}: {error.strerror or error}", file=sys.stderr)
        return 1
    what = "dự thảo báo cáo tổng hợp" if word else "bảng tổng hợp"
    print(f"Đã tạo {what} của {code.upper()} và các đơn vị trực thuộc vào {path}")
    return 0
