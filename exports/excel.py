"""Excel workbooks from stored answers: one unit's Phụ lục, or the secretariat's consolidated book.

* `write_unit_workbook` — one sheet, the unit's Phụ lục in the plan's layout
  (`exports.unit_sheet`).
* `write_consolidated_workbook` — the consolidated table as biểu sheets ("Biểu số 01", "Biểu
  số 02", …, `exports.consolidated`, split by `exports.table_plan`), "Kiểm tra số liệu",
  "Văn bản", "Tiến độ" (`exports.lists`), then one Phụ lục sheet per unit that has something
  to show (at least one answer), named by unit code.
* `write_unit_workbooks` — one workbook per unit with something to show, into a folder or a
  zip stream (`baocao export --per-unit`).

Every workbook's default font is Times New Roman, so even empty cells and column widths follow
it.

Both stream every sheet with openpyxl's write-only mode, so memory stays flat whatever the
number of units. Above `UNIT_SHEET_LIMIT` units (500) the per-unit sheets are skipped even when
asked for — a workbook of thousands of sheets is slow to open and nobody browses it — and a red
note under the last biểu says so and how to export one unit (`baocao export --unit MÃ`). Pass
`unit_sheet_limit=None` to force them.

`output` is a path or a binary file object. Nothing here reads the database: callers load the
data with `exports.data.load_reports`.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from openpyxl import Workbook

from conversations.forms import Form
from exports.cells import SheetNames, StyleBook, grouped, use_document_font
from exports.consolidated import Progress, SummarySheet, unit_tree
from exports.consolidation import left_out, left_out_text, mismatches
from exports.data import CampaignInfo, SignedFile, UnitReport
from exports.figures import documents_of
from exports.generic_form import (
    uses_generic_layout,
    write_generic_consolidated,
    write_generic_unit,
)
from exports.letterhead import secretariat_letterhead, unit_letterhead
from exports.lists import (
    SIGNED_TITLE,
    write_check_sheet,
    write_documents_sheet,
    write_progress_sheet,
    write_signed_sheet,
)
from exports.unit_sheet import UnitSheet

UNIT_SHEET_LIMIT = 500
CHECK_TITLE = "Kiểm tra số liệu"
DOCUMENTS_TITLE = "Văn bản"
PROGRESS_TITLE = "Tiến độ"


@dataclass(frozen=True)
class ExportResult:
    units: int
    documents: int
    unit_sheets: int
    unit_sheets_skipped: bool = False


def _new_workbook(info: CampaignInfo, title: str) -> Workbook:
    workbook = Workbook(write_only=True)
    use_document_font(workbook)
    workbook.properties.title = title
    workbook.properties.creator = "baocao"
    workbook.properties.subject = f"Đợt báo cáo {info.code}"
    return workbook


def write_unit_workbook(
    output: str | Path | BinaryIO,
    info: CampaignInfo,
    form: Form,
    report: UnitReport,
    *,
    now: datetime,
) -> ExportResult:
    """A workbook with one sheet: `report`'s Phụ lục."""
    if uses_generic_layout(form):
        write_generic_unit(output, info, form, report, now=now)
        return ExportResult(units=1, documents=0, unit_sheets=1)
    workbook = _new_workbook(info, f"{form.title} — {report.name}")
    UnitSheet(form, info, now).write(workbook, None, SheetNames().unique(report.code), report)
    workbook.save(output)
    return ExportResult(units=1, documents=_count_documents(form, [report]), unit_sheets=1)


def write_consolidated_workbook(
    output: str | Path | BinaryIO,
    info: CampaignInfo,
    form: Form,
    reports: list[UnitReport],
    *,
    now: datetime,
    unit_sheets: bool = True,
    unit_sheet_limit: int | None = UNIT_SHEET_LIMIT,
    progress: Progress | None = None,
    signed: Mapping[str, list[SignedFile]] | None = None,
    district: UnitReport | None = None,
) -> ExportResult:
    """Sheets "Biểu số 01", "Biểu số 02", … (the consolidated table), "Kiểm tra số liệu",
    "Văn bản", "Tiến độ", "Báo cáo" (signed reports, when `signed` is given), then one per unit
    (unless too many or unwanted). With `district`, the biểu are that unit's own table: its
    heading, its communes beneath it and their sum."""
    skipped = unit_sheets and unit_sheet_limit is not None and len(reports) > unit_sheet_limit
    if uses_generic_layout(form):
        written = write_generic_consolidated(
            output, info, form, reports, now=now, unit_sheets=unit_sheets and not skipped
        )
        return ExportResult(len(reports), 0, written, unit_sheets_skipped=skipped)
    closing = []  # under the last biểu: about the workbook, not about any biểu's figures
    if skipped:
        closing.append(
            f"Không kèm Phụ lục riêng của từng đơn vị vì có {grouped(len(reports))} đơn vị "
            f"(nhiều hơn {grouped(unit_sheet_limit)}); Phụ lục của mỗi đơn vị được xuất riêng."
        )
    workbook = _new_workbook(info, f"Bảng tổng hợp — {info.title}")
    names = SheetNames()
    tree = unit_tree(form, reports)
    found = mismatches(tree, form)
    waiting = left_out(tree)
    notes = [left_out_text(waiting)] if waiting else []  # every biểu's totals leave them out
    # one heading on every sheet: the district's own for its table, else the Ban Dân vận's
    head = unit_letterhead(info, district) if district else secretariat_letterhead(info)
    SummarySheet(form, info, now, letterhead=head, district=district).write(
        workbook,
        names.unique,
        reports,
        notes=notes,
        closing=closing,
        progress=progress,
        tree=tree,
        flagged=found,
    )
    write_check_sheet(
        workbook,
        names.unique(CHECK_TITLE),
        info,
        found,
        reports,
        now,
        left_out=waiting,
        letterhead=head,
    )
    for write, title in (
        (write_documents_sheet, DOCUMENTS_TITLE),
        (write_progress_sheet, PROGRESS_TITLE),
    ):
        write(workbook, names.unique(title), form, info, reports, now, letterhead=head)
    if signed is not None:
        write_signed_sheet(
            workbook,
            names.unique(SIGNED_TITLE),
            form,
            info,
            reports,
            signed,
            now,
            letterhead=head,
        )
    written = 0
    if unit_sheets and not skipped:
        layout = UnitSheet(form, info, now)
        styles: StyleBook | None = None  # shared by every unit sheet: styles are per workbook
        ordered = [report for report in tree.ordered() if has_something(report)]
        for report in ordered:
            styles = layout.write(workbook, styles, names.unique(report.code), report)
            written += 1
            if progress is not None:
                progress("units", written, len(ordered))
    if progress is not None:
        progress("save", 0, 0)
    workbook.save(output)
    return ExportResult(
        units=len(reports),
        documents=_count_documents(form, reports),
        unit_sheets=written,
        unit_sheets_skipped=skipped,
    )


def has_something(report: UnitReport) -> bool:
    """Whether a unit has anything to show on a sheet of its own (at least one answer)."""
    return any(answer.answered for answer in report.answers.values())


def write_unit_workbooks(
    target: str | Path | BinaryIO,
    info: CampaignInfo,
    form: Form,
    reports: list[UnitReport],
    *,
    now: datetime,
    name: Callable[[UnitReport], str],
) -> int:
    """One Phụ lục workbook per unit with something to show, into a folder or a zip.

    `target` is a folder (created if needed) or a binary stream that receives the zip; `name`
    gives each file's name. Returns how many workbooks were written.
    """
    wanted = [report for report in unit_tree(form, reports).ordered() if has_something(report)]
    if isinstance(target, str | Path):
        folder = Path(target)
        folder.mkdir(parents=True, exist_ok=True)
        for report in wanted:
            write_unit_workbook(folder / name(report), info, form, report, now=now)
        return len(wanted)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for report in wanted:
            archive.writestr(name(report), unit_workbook_bytes(info, form, report, now=now))
    return len(wanted)


def unit_workbook_bytes(
    info: CampaignInfo, form: Form, report: UnitReport, *, now: datetime
) -> bytes:
    buffer = io.BytesIO()
    write_unit_workbook(buffer, info, form, report, now=now)
    return buffer.getvalue()


def consolidated_workbook_bytes(
    info: CampaignInfo,
    form: Form,
    reports: list[UnitReport],
    *,
    now: datetime,
    unit_sheets: bool = True,
    unit_sheet_limit: int | None = UNIT_SHEET_LIMIT,
) -> bytes:
    buffer = io.BytesIO()
    write_consolidated_workbook(
        buffer,
        info,
        form,
        reports,
        now=now,
        unit_sheets=unit_sheets,
        unit_sheet_limit=unit_sheet_limit,
    )
    return buffer.getvalue()


def _count_documents(form: Form, reports: list[UnitReport]) -> int:
    keys = [q.key for q in form.questions if q.kind == "documents"]
    total = 0
    for report in reports:
        for key in keys:
            answer = report.answer(key)
            if answer is not None and not answer.not_applicable:
                total += len(documents_of(answer.value))
    return total
