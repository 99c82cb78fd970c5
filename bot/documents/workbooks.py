"""Excel exports for the bot and the command line: load from storage, build, name, deliver.

* `export_bytes` — the workbook in memory with an ASCII file name, for a Telegram document or
  a download link (`/export`, `/export MÃ_ĐƠN_VỊ`).
* `export_to_file` — `baocao export --output TỆP.xlsx [--unit MÃ] [--campaign MÃ_ĐỢT]
  [--no-unit-sheets]`: checks the path first (a clear Vietnamese error and exit 1, nothing
  written), writes to a temporary file in the same directory and renames it, so a failed export
  never leaves half a file; shows progress on stderr for large exports.
* `export_per_unit` — `baocao export --per-unit THƯ_MỤC|TỆP.zip`: one Phụ lục workbook per unit
  with something to show, into a folder or a zip (written to a temporary file, then renamed).
"""

from __future__ import annotations

import io
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TextIO

from bot.documents.snapshot import Snapshot, load_snapshot
from bot.output_files import ascii_name, replaced_atomically
from bot.output_files import check_output_path as check_path
from exports.cells import grouped
from exports.data import CampaignInfo
from exports.excel import (
    UNIT_SHEET_LIMIT,
    ExportResult,
    write_consolidated_workbook,
    write_unit_workbook,
    write_unit_workbooks,
)
from storage.database import Database

PROGRESS_EVERY = 1000
LARGE_EXPORT = 500


def export_filename(info: CampaignInfo, unit_code: str | None, now: datetime) -> str:
    """An ASCII file name: CT37-2022_tong-hop_20220704-0830.xlsx, CT37-2022_HU-NP_….xlsx."""
    stamp = now.astimezone(info.zone).strftime("%Y%m%d-%H%M")
    what = ascii_name(unit_code) if unit_code else "tong-hop"
    return f"{ascii_name(info.code).upper()}_{what}_{stamp}.xlsx"


def _write(
    output,
    snapshot: Snapshot,
    *,
    unit_code: str | None,
    unit_sheets: bool,
    now: datetime,
    progress=None,
) -> tuple[str, ExportResult]:
    """Build from one snapshot: the Phụ lục of `unit_code`, or the consolidated workbook."""
    info, form, reports = snapshot.info, snapshot.form, snapshot.units
    name = export_filename(info, reports[0].code if unit_code else None, now)
    if unit_code:
        result = write_unit_workbook(output, info, form, reports[0], now=now)
    else:
        result = write_consolidated_workbook(
            output,
            info,
            form,
            reports,
            now=now,
            unit_sheets=unit_sheets,
            progress=progress,
            signed=snapshot.signed,
        )
    return name, result


def export_bytes(
    database: Database,
    *,
    campaign_id: int | None = None,
    campaign_code: str | None = None,
    unit_code: str | None = None,
    unit_sheets: bool = True,
    now: datetime,
) -> tuple[str, bytes]:
    """(file name, workbook bytes): the consolidated workbook, or `unit_code`'s Phụ lục.

    The campaign is `campaign_id`, else the one whose code is `campaign_code`, else the current
    one. Raises `StorageError` for an unknown campaign or unit.
    """
    snapshot = load_snapshot(
        database,
        campaign_id=campaign_id,
        campaign_code=campaign_code,
        unit_code=unit_code,
        signed=unit_code is None,
    )
    buffer = io.BytesIO()
    name, _ = _write(buffer, snapshot, unit_code=unit_code, unit_sheets=unit_sheets, now=now)
    return name, buffer.getvalue()


def per_unit_zip_bytes(database: Database, *, now: datetime) -> tuple[str, bytes]:
    """(file name, zip bytes): every unit's Phụ lục, as `baocao export --per-unit TỆP.zip`."""
    snapshot = load_snapshot(database)
    info, form, reports = snapshot.info, snapshot.form, snapshot.units
    buffer = io.BytesIO()
    write_unit_workbooks(
        buffer, info, form, reports, now=now, name=lambda r: export_filename(info, r.code, now)
    )
    stamp = now.astimezone(info.zone).strftime("%Y%m%d-%H%M")
    return f"{ascii_name(info.code).upper()}_phu-luc-tung-don-vi_{stamp}.zip", buffer.getvalue()


def check_output_path(output: str | os.PathLike) -> str | None:
    """A Vietnamese reason why `output` cannot receive the export, or None when it can."""
    return check_path(output, ".xlsx", "tệp xuất")


class _ProgressLine:
    """Progress on stderr every 1,000 rows: "Đang xuất 4.000/30.000 dòng các biểu tổng hợp…"."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "save":
            print("Đang ghi tệp…", file=self.stream, flush=True)
        elif done % PROGRESS_EVERY == 0 or done == total:
            # the summary's rows: every unit once on each biểu
            what = "dòng các biểu tổng hợp" if stage == "summary" else "sheet đơn vị"
            print(
                f"Đang xuất {grouped(done)}/{grouped(total)} {what}…",
                file=self.stream,
                flush=True,
            )


def export_to_file(
    app,
    output: str | os.PathLike,
    *,
    unit_code: str | None = None,
    campaign_code: str | None = None,
    unit_sheets: bool = True,
) -> int:
    """The `baocao export` command; returns the exit code."""
    problem = check_output_path(output)
    if problem:
        print(f"baocao: {problem}", file=sys.stderr)
        return 1
    path = Path(output)
    now = app.clock()
    snapshot = load_snapshot(  # StorageError → one clear line, exit 1
        app.database, campaign_code=campaign_code, unit_code=unit_code, signed=unit_code is None
    )
    units = len(snapshot.units)
    progress = None
    if not unit_code and (units > LARGE_EXPORT or sys.stderr.isatty()):
        progress = _ProgressLine(sys.stderr)
    try:
        with replaced_atomically(path) as stream:
            _, result = _write(
                stream,
                snapshot,
                unit_code=unit_code,
                unit_sheets=unit_sheets,
                now=now,
                progress=progress,
            )
    except OSError as error:
        print(f"baocao: không ghi được {path}: {error.strerror or error}", file=sys.stderr)
        return 1
    if unit_code:
        print(f"Đã xuất Phụ lục của {snapshot.units[0].name} vào {path}")
    else:
        extra = ""
        if result.unit_sheets_skipped:
            extra = f" (không tạo sheet từng đơn vị vì quá {grouped(UNIT_SHEET_LIMIT)} đơn vị)"
        print(f"Đã xuất bảng tổng hợp {grouped(units)} đơn vị{extra} vào {path}")
    return 0


def check_per_unit_target(target: str | os.PathLike) -> str | None:
    """A Vietnamese reason why `target` (a folder or a .zip) cannot receive the workbooks."""
    path = Path(target)
    if path.suffix.lower() == ".zip":
        if path.is_dir():
            return f"{path} là một thư mục, không phải tệp .zip"
        parent = path.parent if str(path.parent) else Path(".")
    else:
        if path.exists() and not path.is_dir():
            return f"{path} đã có và không phải thư mục (dùng một thư mục hoặc tệp .zip)"
        parent = path if path.is_dir() else path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        return f"không có thư mục {parent}"
    if not os.access(parent, os.W_OK):
        return f"không có quyền ghi vào thư mục {parent}"
    return None


def export_per_unit(app, target: str | os.PathLike, *, campaign_code: str | None = None) -> int:
    """The `baocao export --per-unit` command; returns the exit code."""
    problem = check_per_unit_target(target)
    if problem:
        print(f"baocao: {problem}", file=sys.stderr)
        return 1
    path = Path(target)
    now = app.clock()
    snapshot = load_snapshot(app.database, campaign_code=campaign_code)
    info, form, reports = snapshot.info, snapshot.form, snapshot.units

    def name(report) -> str:
        return export_filename(info, report.code, now)

    try:
        if path.suffix.lower() == ".zip":
            with replaced_atomically(path) as stream:
                written = write_unit_workbooks(stream, info, form, reports, now=now, name=name)
        else:
            written = write_unit_workbooks(path, info, form, reports, now=now, name=name)
    except OSError as error:
        print(f"baocao: không ghi được {path}: {error.strerror or error}", file=sys.stderr)
        return 1
    empty = len(reports) - written
    extra = f"; {grouped(empty)} đơn vị chưa có số liệu nên không có tệp" if empty else ""
    print(f"Đã xuất Phụ lục của {grouped(written)} đơn vị (mỗi đơn vị một tệp) vào {path}{extra}")
    return 0
