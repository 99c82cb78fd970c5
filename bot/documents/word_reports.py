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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from bot.cli.output_files import ascii_name, check_output_path, replaced_atomically
from conversations.forms import Form, QuestionKind, memo
from conversations.narrative import narrative_texts
from conversations.outline import Outline, load_outline, resolve_outline_path
from exports.consolidation import UnitTree, add_counted
from exports.data import CampaignInfo, UnitReport, load_reports
from exports.figures import Totals, question_columns
from exports.report_docx import (
    SUBMITTED,
    Letterhead,
    build_consolidated_report,
    build_unit_report,
)
from storage.database import Database
from storage.models import Campaign
from storage.repository import StorageError, campaign_spec, current_campaign, unit_by_code

REPORT_KIND = "report"  # an `Attachment`/download link that carries the unit's draft
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# When the unit list has no heading columns for a unit, its heading is derived from its name.
_ON_BEHALF = (
    ("ban thường vụ", "T/M BAN THƯỜNG VỤ"),
    ("ban cán sự đảng", "T/M BAN CÁN SỰ ĐẢNG"),
    ("đảng đoàn", "T/M ĐẢNG ĐOÀN"),
    ("đảng ủy", "T/M ĐẢNG ỦY"),
    ("chi bộ", "T/M CHI BỘ"),
)
_PARTY_OF = (("Huyện ủy ", "Đảng bộ huyện "), ("Thành ủy ", "Đảng bộ thành phố "))


@dataclass(frozen=True)
class LoadedReport:
    campaign: CampaignInfo
    outline: Outline
    form: Form
    units: list[UnitReport]
    parent_name: str | None  # a unit's report: the name of the unit above it, if any


def issuing_body(name: str) -> str:
    """The body a unit issues as: "Ban Thường vụ Huyện ủy Ninh Phước" -> "Huyện ủy Ninh Phước"."""
    prefix = "Ban Thường vụ "
    return name[len(prefix) :] if name.casefold().startswith(prefix.casefold()) else name


def unit_letterhead(unit: UnitReport, parent_name: str | None, info: CampaignInfo) -> Letterhead:
    """A unit's heading and signer: the unit list's columns, else derived from its name and its
    parent's, with the campaign file's `document` defaults (place, signer, recipients)."""
    doc, own = info.document, unit.heading
    body = own.heading_name or issuing_body(unit.name)
    superior = own.superior or (f"Đảng bộ tỉnh {doc.place}" if doc.place else "")
    if not own.superior and parent_name:
        superior = issuing_body(parent_name)
        for head, party in _PARTY_OF:
            if superior.startswith(head):
                superior = party + superior[len(head) :]
    on_behalf = own.signer_for or next(
        (words for start, words in _ON_BEHALF if unit.name.casefold().startswith(start)),
        doc.unit_signer_for or f"T/M {body.upper()}",
    )
    receiver = info.receiver
    recipients = tuple(doc.unit_recipients) or (
        (f"{receiver} (báo cáo),", "Lưu.") if receiver else ("Lưu.",)
    )
    return Letterhead(
        superior=superior,
        body=body,
        place=own.place or doc.place,
        on_behalf=on_behalf,
        position=own.signer_title or "BÍ THƯ",
        recipients=recipients,
    )


def secretariat_letterhead(info: CampaignInfo) -> Letterhead:
    """The Ban Dân vận's heading and signer, from the campaign file's `document`."""
    doc = info.document
    return Letterhead(
        superior=doc.superior,
        body=doc.body,
        place=doc.place,
        number=doc.number or "Số …-BC/…",
        on_behalf=doc.signer_for,
        position=doc.signer_title,
        signer=doc.signer_name,
        recipients=tuple(doc.recipients) or ("Lưu.",),
    )


def campaign_outline(campaign: Campaign, form: Form) -> Outline:
    """The campaign's Đề cương, read once per form object and outline name (the chat asks often).

    Raises `StorageError` when the campaign names none."""
    spec = campaign_spec(campaign)
    if not spec.outline:
        raise StorageError(
            f"đợt báo cáo {campaign.code} chưa có đề cương báo cáo: thêm dòng "
            f"«outline: ct37_decuong.yaml» vào tệp đợt báo cáo rồi chạy: baocao campaign load TỆP"
        )
    cache = memo(form)
    outline = cache.get((Outline, spec.outline))
    if outline is None:
        outline = load_outline(resolve_outline_path(spec.outline), form)
        cache[(Outline, spec.outline)] = outline
    return outline


def load_for_report(
    session: Session, campaign_code: str | None, unit_code: str | None
) -> LoadedReport:
    campaign = current_campaign(session, campaign_code)
    info, form, units = load_reports(session, campaign, unit_code)
    outline = campaign_outline(campaign, form)
    parent = units[0].parent_code if unit_code else None
    parent_name = unit_by_code(session, parent).name if parent else None
    return LoadedReport(info, outline, form, units, parent_name)


def consolidated_totals(form: Form, units: list[UnitReport]) -> tuple[dict[str, dict | None], int]:
    """({question key: province total in an answer's shape}, how many units it is built from),
    by `exports.consolidation`'s rules, as the "Tổng hợp" sheet adds them up."""
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
    loaded: LoadedReport, unit: UnitReport, parent_name: str | None, now: datetime
) -> bytes:
    """One unit's report (draft until submitted) with the texts it wrote in the chat."""
    letterhead = unit_letterhead(unit, parent_name, loaded.campaign)
    texts = narrative_texts({key: answer.value for key, answer in unit.answers.items()})
    return build_unit_report(
        loaded.campaign,
        loaded.outline,
        loaded.form,
        unit,
        letterhead=letterhead,
        narratives=texts,
        now=now,
    )


def build_report(loaded: LoadedReport, unit_code: str | None, now: datetime) -> bytes:
    if unit_code:
        return build_unit_draft(loaded, loaded.units[0], loaded.parent_name, now)
    totals, counted = consolidated_totals(loaded.form, loaded.units)
    return build_consolidated_report(
        loaded.campaign,
        loaded.outline,
        loaded.form,
        totals=totals,
        units=loaded.units,
        counted=counted,
        letterhead=secretariat_letterhead(loaded.campaign),
        now=now,
    )


def report_bytes(
    database: Database,
    *,
    unit_code: str | None = None,
    campaign_code: str | None = None,
    now: datetime,
) -> tuple[str, bytes]:
    """(file name, .docx bytes): `unit_code`'s draft report, or the consolidated draft."""
    with database.transaction() as session:
        loaded = load_for_report(session, campaign_code, unit_code)
    data = build_report(loaded, unit_code, now)
    name = report_filename(loaded.campaign, loaded.units[0].code if unit_code else None, now)
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
    with app.database.transaction() as session:  # StorageError → one clear line, exit 1
        loaded = load_for_report(session, campaign_code, unit_code)
    data = build_report(loaded, unit_code, now)
    try:
        with replaced_atomically(path) as stream:
            stream.write(data)
    except OSError as error:
        print(f"baocao: không ghi được {path}: {error.strerror or error}", file=sys.stderr)
        return 1
    if unit_code:
        unit = loaded.units[0]
        what = "báo cáo" if unit.status in SUBMITTED else "dự thảo báo cáo"
        print(f"Đã tạo {what} của {unit.name} vào {path}")
    else:
        reported = sum(unit.status in SUBMITTED for unit in loaded.units)
        print(
            f"Đã tạo dự thảo báo cáo tổng hợp ({reported}/{len(loaded.units)} đơn vị đã báo cáo)"
            f" vào {path}"
        )
    return 0
