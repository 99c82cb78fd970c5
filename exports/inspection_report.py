"""The inspection's own report: what the plan (IV.1) asks the Ban Dân vận to write.

Kế hoạch 131-KH/TU gives the Ban Dân vận the task to "tổng hợp báo cáo kết quả kiểm tra trình Ban
Thường vụ Tỉnh ủy". `build_inspection_report` drafts that report (not a unit's "kết quả thực
hiện" report): BÁO CÁO Kết quả kiểm tra …, from the Ban Dân vận (or the Đoàn kiểm tra) to the
Ban Thường vụ Tỉnh ủy:

* I- how the inspection was run: the units the Đoàn inspected directly and those that inspected
  themselves (the plan's two groups, section II.2), the reports received on time, late (with
  the day) and missing, by name;
* II- the results under the Đề cương's points (its sections up to the last with figures), with
  the consolidated figures;
* III- the assessment (ưu điểm, hạn chế, nguyên nhân) and IV- kiến nghị, to be completed;
* Phụ lục 1: what each unit wrote under each point of the Đề cương, with the unit's name;
  Phụ lục 2: the units that sent a report; then the consolidated figures as a table numbered
  after the workbook's biểu (Biểu số 04 for CT37, whose Biểu số 01–03 give each unit's figures).

Only units that sent something are listed as reporting; sample units ("(mẫu)" in the unit
list) never appear anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Mm, Pt

from conversations.formatting import format_number
from conversations.forms import Form, Question
from conversations.outline import NO_DATA_TEXT, Outline, Reading
from exports.consolidation import Deadlines, is_sample
from exports.data import CampaignInfo, UnitReport
from exports.letterhead import Letterhead
from exports.report_docx import (
    GREY,
    SUBMITTED,
    _appendix_title,
    _Body,
    _figures_table,
    _grid,
    _heading,
    _row,
    _save,
    _signature,
    _start,
    _year,
)

DIRECT, SELF = "kiem_tra_truc_tiep", "tu_kiem_tra"
TO_COMPLETE = "(Đoàn kiểm tra bổ sung nội dung.)"
FROM_UNITS = "(Tổng hợp từ báo cáo của các đơn vị, xem Phụ lục 1.)"
ASSESSMENT = ("1. Ưu điểm", "2. Hạn chế", "3. Nguyên nhân")


def _day(moment: datetime, campaign: CampaignInfo) -> str:
    return moment.astimezone(campaign.zone).strftime("%d/%m/%Y")


def _names(units: Sequence[UnitReport]) -> str:
    return "; ".join(unit.name for unit in units) if units else "không có"


def build_inspection_report(
    campaign: CampaignInfo,
    outline: Outline,
    form: Form,
    *,
    totals: Mapping[str, dict | None],
    units: Sequence[UnitReport],
    counted: int,
    letterhead: Letterhead,
    texts: Mapping[str, Mapping[str, str]],
    left_out: str | None = None,
    now: datetime,
) -> bytes:
    """The draft report of the inspection, as .docx bytes ("DỰ THẢO" on every page).

    `texts` maps a unit code to what it wrote under each point ({point key: text});
    `totals`/`counted` as `exports.report_docx.build_consolidated_report` takes them."""
    units = [unit for unit in units if not is_sample(unit)]
    sent = [unit for unit in units if unit.status in SUBMITTED]
    page = _start(letterhead, draft=True)
    _heading(page, letterhead, campaign, now, dated=False)
    subject = campaign.title[:1].lower() + campaign.title[1:]
    center = {"align": WD_ALIGN_PARAGRAPH.CENTER, "indent": False}
    title = page.paragraph("BÁO CÁO", bold=True, size=Pt(15), **center)
    title.paragraph_format.space_before = Pt(18)
    title.paragraph_format.space_after = Pt(0)
    page.paragraph(f"Kết quả {subject}", bold=True, **center).paragraph_format.space_after = Pt(0)
    if campaign.period_text:
        page.paragraph(f"(Thời gian kiểm tra {campaign.period_text})", italic=True, **center)
    page.paragraph("-----", **center)
    issuer = letterhead.issuer or "Ban Dân vận"
    page.paragraph(
        f"Thực hiện {campaign.issued_by} về {subject}, {issuer} (cơ quan thường trực Đoàn kiểm "
        f"tra) tổng hợp, báo cáo Ban Thường vụ Tỉnh ủy kết quả kiểm tra như sau:"
    )

    _how_it_was_run(page, campaign, units, sent, counted, left_out, now)

    page.paragraph("II- KẾT QUẢ KIỂM TRA", bold=True, keep_with_next=True)

    def read(question: Question) -> Reading:
        return Reading(totals.get(question.key), missing=NO_DATA_TEXT)

    sections = [
        section.model_copy(update={"key": str(number)})
        for number, section in enumerate(_result_sections(outline), start=1)
    ]
    body = _Body(page, form, read, {}, FROM_UNITS, documents=False)
    body.write(outline.model_copy(update={"sections": sections}))

    page.paragraph("III- ĐÁNH GIÁ CHUNG", bold=True, keep_with_next=True)
    for heading in ASSESSMENT:
        page.paragraph(heading, bold=True, keep_with_next=True)
        page.paragraph(TO_COMPLETE, italic=True, color=GREY)
    page.paragraph("IV- KIẾN NGHỊ", bold=True, keep_with_next=True)
    page.paragraph(TO_COMPLETE, italic=True, color=GREY)
    _signature(page, letterhead)

    page.page_break()
    _units_texts(page, outline, sent, texts)
    page.page_break()
    _reporting_units(page, campaign, sent)
    page.page_break()
    _appendix_title(
        page,
        form,
        f"Tổng hợp từ {format_number(counted)} đơn vị đã báo cáo",
        letterhead.attached_line(_year(now, campaign)),
        consolidated=True,
    )
    _figures_table(page, form, list(form.questions), read)
    return _save(page)


def _result_sections(outline: Outline) -> list:
    """The Đề cương's sections up to the last one that holds figures (situation, leadership,
    results): its assessment, tasks and proposals are the inspection's own III and IV."""

    def has_figures(points) -> bool:
        return any(point.figures or has_figures(point.points) for point in points)

    holding = [
        index
        for index, section in enumerate(outline.sections)
        if section.figures or has_figures(section.points)
    ]
    return outline.sections[: (holding[-1] + 1) if holding else len(outline.sections)]


def _how_it_was_run(page, campaign, units, sent, counted, left_out, now) -> None:
    page.paragraph("I- CÔNG TÁC TỔ CHỨC KIỂM TRA", bold=True, keep_with_next=True)
    direct = [unit for unit in units if unit.group == DIRECT]
    own = [unit for unit in units if unit.group == SELF]
    page.paragraph(
        f"1. Đoàn kiểm tra làm việc trực tiếp tại {format_number(len(direct))} đơn vị: "
        f"{_names(direct)}."
    )
    page.paragraph(
        f"2. {format_number(len(own))} đơn vị tự kiểm tra và báo cáo kết quả theo Đề cương "
        f"(qua {campaign.receiver or 'Ban Dân vận'}): {_names(own)}."
    )
    deadlines = Deadlines(campaign.deadline, campaign.own_deadlines)
    on_time, late = [], []
    for unit in sent:
        when = unit.submitted_at
        if when is not None and when > deadlines.of(unit.code):
            late.append(f"{unit.name} (ngày {_day(when, campaign)})")
        else:
            on_time.append(unit.name)
    missing = [unit for unit in units if unit.status not in SUBMITTED]
    page.paragraph(
        f"3. Đến ngày {_day(now, campaign)}, {format_number(len(sent))}/"
        f"{format_number(len(units))} đơn vị đã gửi báo cáo; số liệu tổng hợp từ báo cáo của "
        f"{format_number(counted)} đơn vị (số liệu của đơn vị cấp dưới đã có trong báo cáo của "
        f"đơn vị cấp trên không cộng lại lần nữa)." + (f" {left_out}" if left_out else "")
    )
    page.paragraph(f"- Gửi đúng hạn: {'; '.join(on_time) or 'không có'}.")
    page.paragraph(f"- Gửi muộn: {'; '.join(late) or 'không có'}.")
    page.paragraph(f"- Chưa gửi báo cáo: {_names(missing)}.")


def _units_texts(page, outline: Outline, sent, texts: Mapping[str, Mapping[str, str]]) -> None:
    """Phụ lục 1: under each point of the Đề cương, what each unit wrote, with its name."""
    center = {"align": WD_ALIGN_PARAGRAPH.CENTER, "indent": False}
    page.paragraph("PHỤ LỤC 1", bold=True, **center).paragraph_format.space_after = Pt(0)
    page.paragraph("NỘI DUNG BÁO CÁO CỦA CÁC ĐƠN VỊ THEO ĐỀ CƯƠNG", bold=True, **center)
    written = False
    holders = [(section.key, section.heading) for section in outline.sections]
    holders += [
        (point.key, f"{point.mark} {point.text}" if point.mark else point.text)
        for _, point in outline.walk()
    ]
    for key, heading in holders:
        entries = [(unit, (texts.get(unit.code) or {}).get(key, "").strip()) for unit in sent]
        entries = [(unit, text) for unit, text in entries if text]
        if not entries:
            continue
        written = True
        page.paragraph(heading, bold=True, keep_with_next=True)
        for unit, text in entries:
            paragraph = page.paragraph(f"- {unit.name}: ", bold=False)
            paragraph.runs[0].bold = True
            paragraph.add_run(" ".join(line.strip() for line in text.splitlines() if line.strip()))
    if not written:
        page.paragraph("(Các đơn vị chưa gửi nội dung báo cáo theo Đề cương.)", italic=True)


def _reporting_units(page, campaign: CampaignInfo, sent: Sequence[UnitReport]) -> None:
    """Phụ lục 2: the units that sent a report, with the day."""
    center = {"align": WD_ALIGN_PARAGRAPH.CENTER, "indent": False}
    page.paragraph("PHỤ LỤC 2", bold=True, **center).paragraph_format.space_after = Pt(0)
    page.paragraph("DANH SÁCH ĐƠN VỊ ĐÃ GỬI BÁO CÁO", bold=True, **center)
    table = _grid(page, ["STT", "Đơn vị", "Ngày gửi"], [Mm(12), Mm(118)])
    for number, unit in enumerate(sent, start=1):
        when = _day(unit.submitted_at, campaign) if unit.submitted_at else ""
        _row(table, [str(number), unit.name, when])
