"""A form imported from an XLSForm, opened beside CT37, filled on Telegram through the real
application and the fake Bot API (issue #22): the officer picks it with a button, answers every
kind of question by typing, submits, and the consolidated workbook carries the figures."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from bot.documents.workbooks import export_bytes
from tests.campaigns.test_officer_walkthrough import open_sample
from tests.channels.test_multicampaign_channels import answers_by_campaign
from tests.channels.test_telegram_e2e import (  # noqa: F401 (fixtures)
    OFFICER,
    UNIT_NAME,
    Person,
    button_data,
    deployment,
    tg,
)

TITLE = "Báo cáo công tác dân vận 6 tháng cuối năm 2026"
TYPED = ["12", "30,5", "15/11/2026", "1", "3, hop", "Hội nghị tập huấn; 120\nMít tinh; 1.300"]


async def test_an_imported_form_is_picked_filled_and_submitted_on_telegram(
    deployment,  # noqa: F811
    tg,  # noqa: F811
    tmp_path,
):
    await deployment.start()
    database = deployment.app.database
    open_sample(database, deployment.clock, tmp_path)
    officer = Person(tg, OFFICER)
    await officer.say(f"/start {deployment.invite()}")
    _, (_linked, menu) = await officer.press("link_yes|link", expect=2)
    assert menu.text.startswith(f"{UNIT_NAME} đang có 2 đợt báo cáo cần điền.")
    assert "dv-2026|dot" in button_data(menu) and "ct37-2022|dot" in button_data(menu)

    _, [first] = await officer.press("dv-2026|dot")
    prefix = f"[Đợt: {TITLE}]\n"
    assert first.text.startswith(prefix) and "Câu 1/6 — Mục 1. Tình hình chung" in first.text
    for text in TYPED:
        [reply] = await officer.say(text)
        assert reply.text.startswith(prefix) and "Đã ghi" in reply.text, (text, reply.text)
    [confirm] = await officer.say("nộp")
    assert "Xác nhận nộp" in confirm.text
    [submitted] = await officer.say("có")
    assert submitted.text.startswith(f"{prefix}Đã nộp báo cáo của {UNIT_NAME}")
    await deployment.settle()

    stored = answers_by_campaign(database)
    assert stored["dv-2026"]["status"] == "submitted"
    assert stored["dv-2026"]["meetings"] == {"value": 12}
    assert "ct37-2022" not in stored  # nothing written to the other open campaign

    name, data = export_bytes(database, now=deployment.clock(), campaign_code="dv-2026")
    cells = [
        str(cell) for sheet in load_workbook(io.BytesIO(data)) for row in sheet.values
        for cell in row if cell is not None
    ]  # fmt: skip
    assert name.startswith("DV-2026") and "Số cuộc họp" in cells and UNIT_NAME in cells
