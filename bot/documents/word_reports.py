"""Word report drafts for the command line (and later the chat): load, build, name, write.

* `report_bytes` — a unit's draft report (`unit_code`) or the Ban Dân vận's consolidated draft,
  as (file name, .docx bytes), from what is stored.
* `report_to_file` — `baocao report --unit MÃ | --consolidated --output TỆP.docx`: checks the
  path first (a clear Vietnamese line and exit 1, nothing written), writes a temporary file in the
  same folder and renames it, so a failure never leaves half a file.

The campaign file names the Đề cương (`outline:`); the outline text is not stored in the
database, so it is read again here: a bundled name, or a path valid from the working folder.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

from bot.documents.snapshot import Snapshot, campaign_outline, load_snapshot
from bot.output_files import ascii_name, check_output_path, replaced_atomically
from conversations.forms import Form, QuestionKind
from conversations.narrative import narrative_texts
from exports.consolidation import UnitTree, add_counted, left_out, left_out_text, standing_text
from exports.data import CampaignInfo, UnitReport
from exports.figures import Totals, question_columns
from exports.inspection_report import build_inspection_report
from exports.letterhead import secretariat_letterhead, unit_letterhead
from exports.report_docx import SUBMITTED, build_unit_report
from storage.database import Database

REPORT_KIND = "report"  # an `Attachment`/download link that carries the unit's draft
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
__all__ = ["campaign_outline", "report_bytes", "report_to_file", "unit_letterhead"]


def consolidated_totals(form: Form, units: list[UnitReport]) -> tuple[dict[str, dict | None], int]:
    """({question key: province total in an answer's shape}, how many units it is built from),
    by `exports.consolidation`'s rules, as the biểu of the workbook add them up."""
    tree = UnitTree(units)
    totals = Totals(form)
    add_counted(tree, [(unit, 0) for unit in units], totals)
    result: dict[str, dict | None] = {}
    for question in form.questions:
        if question.kind == QuestionKind.TEXT or not totals.contributors(question):
            result[question.key] = None
            continue
        columns = question_columns(question)
        figures = totals.figures(question)
        value = {
            column.part: figure.value
            for column, figure in zip(columns, figures, strict=True)
            if column.part != "rate"
        }
        if question.kind == QuestionKind.PERCENT:
            value["average"] = True
        result[question.key] = value
    return result, sum(tree.counted(unit) for unit in units)


def report_filename(info: CampaignInfo, unit_code: str | None, now: datetime) -> str:
    """An ASCII file name: CT37-2022_bao-cao_HU-NP_20220704-0830.docx."""
    stamp = now.astimezone(info.zone).strftime("%Y%m%d-%H%M")
    what = ascii_name(unit_code) if unit_code else "tong-hop"
    return f"{ascii_name(info.code).upper()}_bao-cao_{what}_{stamp}.docx"


def build_unit_draft(
    snapshot: Snapshot, unit: UnitReport, now: datetime, tree: UnitTree | None = None
) -> bytes:
    """One unit's report (draft until submitted) with the texts it wrote in the chat, saying
    whether its figures are in a total: `snapshot` holds every participating unit (`tree` is
    their `UnitTree`, passed when drafting many)."""
    tree = tree or UnitTree(snapshot.units)
    letterhead = unit_letterhead(snapshot.info, unit)
    texts = narrative_texts({key: answer.value for key, answer in unit.answers.items()})
    return build_unit_report(
        snapshot.info,
        snapshot.outline,
        snapshot.form,
        unit,
        letterhead=letterhead,
        narratives=texts,
        standing=standing_text(tree, unit),
        now=now,
    )


def build_report(snapshot: Snapshot, unit_code: str | None, now: datetime) -> bytes:
    """The Word draft from one snapshot: `unit_code`'s report, or the consolidated one."""
    if unit_code:
        return build_unit_draft(snapshot, _unit(snapshot, unit_code), now)
    totals, counted = consolidated_totals(snapshot.form, snapshot.units)
    waiting = left_out_text(left_out(UnitTree(snapshot.units)))
    texts = {
        unit.code: narrative_texts({key: answer.value for key, answer in unit.answers.items()})
        for unit in snapshot.units
    }
    return build_inspection_report(
        snapshot.info,
        snapshot.outline,
        snapshot.form,
        totals=totals,
        units=snapshot.units,
        counted=counted,
        letterhead=secretariat_letterhead(snapshot.info),
        texts=texts,
        left_out=waiting,
        now=now,
    )


def _unit(snapshot: Snapshot, code: str) -> UnitReport | None:
    """The unit of `snapshot` with `code`, matched as storage matches it (any case)."""
    wanted = code.strip().upper()
    return next((unit for unit in snapshot.units if unit.code.upper() == wanted), None)


def report_snapshot(
    database: Database,
    *,
    campaign_id: int | None = None,
    campaign_code: str | None = None,
    unit_code: str | None = None,
) -> Snapshot:
    """What a Word draft is built from, read in one transaction (with the Đề cương): every
    participating unit, since a unit's draft says whether the units above it have submitted.
    Raises `StorageError` for an unknown `unit_code` or one not taking part."""
    snapshot = load_snapshot(
        database, campaign_id=campaign_id, campaign_code=campaign_code, outline=True
    )
    if unit_code is not None and _unit(snapshot, unit_code) is None:
        load_snapshot(  # raises the reason (unknown unit, or not in this campaign)
            database, campaign_id=snapshot.campaign_id, unit_code=unit_code
        )
    return snapshot


def report_bytes(
    database: Database,
    *,
    unit_code: str | None = None,
    campaign_id: int | None = None,
    campaign_code: str | None = None,
    now: datetime,
) -> tuple[str, bytes]:
    """(file name, .docx bytes): `unit_code`'s draft report, or the consolidated draft."""
    snapshot = report_snapshot(
        database, campaign_id=campaign_id, campaign_code=campaign_code, unit_code=unit_code
    )
    data = build_report(snapshot, unit_code, now)
    unit = _unit(snapshot, unit_code) if unit_code else None
    name = report_filename(snapshot.info, unit.code if unit else None, now)
    return name, data


def check_report_path(output: str | os.PathLike) -> str | None:
    """A Vietnamese reason why `output` cannot receive the report, or None when it can."""
    return check_output_path(output, ".docx", "tệp báo cáo")


def report_to_file(
    app, output: str | os.PathLike, *, unit_code: str | None, campaign_code: str | None = None
) -> int:
    """The `baocao report` command; returns the exit code."""
    problem = check_report_path(output)
    if problem:
        print(f"baocao: {problem}", file=sys.stderr)
        return 1
    path = Path(output)
    now = app.clock()
    # StorageError → one clear line, exit 1
    loaded = report_snapshot(app.database, campaign_code=campaign_code, unit_code=unit_code)
    data = build_report(loaded, unit_code, now)
    try:
        with replaced_atomically(path) as stream:
            stream.write(data)
    except OSError as error:
        print(f"baocao: không ghi được {path}: {error.strerror or error}", file=sys.stderr)
        return 1
    if unit_code:
        unit = _unit(loaded, unit_code)
        what = "báo cáo" if unit.status in SUBMITTED else "dự thảo báo cáo"
        print(f"Đã tạo {what} của {unit.name} vào {path}")
    else:
        reported = sum(unit.status in SUBMITTED for unit in loaded.units)
        print(
            f"Đã tạo dự thảo báo cáo tổng hợp ({reported}/{len(loaded.units)} đơn vị đã báo cáo)"
            f" vào {path}"
        )
    return 0
