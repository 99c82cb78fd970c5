"""Two open campaigns through the real application and the fake Bot API servers (issue #22).

Telegram: an officer links, is asked which campaign with buttons, picks one, fills and submits
it, switches with «/dot» and a button, and answers the other; every message names its campaign.
Zalo: the same choice as a numbered list, picked by typing its number, switched with «đợt».
"""

from __future__ import annotations

import yaml
from sqlmodel import select

from conversations.campaigns import BUNDLED_CAMPAIGN, load_campaign
from conversations.forms import BUNDLED_FORMS
from storage.models import Answer, Campaign, Submission, Unit
from storage.repository import save_campaign
from tests.channels.test_telegram_e2e import (  # noqa: F401 (fixtures)
    OFFICER,
    TYPED,
    UNIT_NAME,
    Person,
    button_data,
    button_labels,
    deployment,
    tg,
)
from tests.channels.test_zalo_e2e import fake, running  # noqa: F401 (fixtures)

TITLE = "Sơ kết Quy chế dân chủ ở cơ sở năm 2030"
CT37 = "Kiểm tra việc thực hiện Chỉ thị 37-CT/TU"


def load_second(database, clock, tmp_path) -> None:
    """A second open campaign for HU-NP: the bundled file with another code, title, deadline."""
    raw = yaml.safe_load(BUNDLED_CAMPAIGN.read_text(encoding="utf-8"))
    raw.update(
        code="ct38-2030",
        title=TITLE,
        deadline="2030-07-05T00:00:00+07:00",
        form=str(BUNDLED_FORMS / "ct37_phuluc.yaml"),
        outline=str(BUNDLED_FORMS / "ct37_decuong.yaml"),
        participants={"units": ["HU-NP"]},
    )
    text = yaml.safe_dump(raw, allow_unicode=True)
    path = tmp_path / "ct38-2030.yaml"
    path.write_text(text, encoding="utf-8")
    with database.transaction() as session:
        save_campaign(session, load_campaign(path), clock())


def answers_by_campaign(database, unit_code: str = "HU-NP") -> dict[str, dict]:
    with database.transaction() as session:
        rows = session.exec(
            select(Campaign.code, Submission.status, Answer.question_key, Answer.value)
            .join(Submission, Submission.id == Answer.submission_id)
            .join(Campaign, Campaign.id == Submission.campaign_id)
            .join(Unit, Unit.id == Submission.unit_id)
            .where(Unit.code == unit_code)
        ).all()
    found: dict[str, dict] = {}
    for code, status, key, value in rows:
        found.setdefault(code, {"status": status})[key] = value
    return found


async def test_telegram_officer_picks_with_a_button_switches_and_submits_one(
    deployment,  # noqa: F811
    tg,  # noqa: F811
    tmp_path,
):
    await deployment.start()
    load_second(deployment.app.database, deployment.clock, tmp_path)
    officer = Person(tg, OFFICER)
    await officer.say(f"/start {deployment.invite()}")
    _, (linked, menu) = await officer.press("link_yes|link", expect=2)
    assert linked.text == f"Đã liên kết với {UNIT_NAME}."
    assert menu.text.startswith(f"{UNIT_NAME} đang có 2 đợt báo cáo cần điền.")
    assert button_data(menu) == ["ct38-2030|dot", "ct37-2022|dot"]
    assert button_labels(menu) == [
        f"{TITLE} (trước ngày 05/7/2030)",
        f"{CT37} (trước ngày 05/7/2022)",
    ]

    _, [first] = await officer.press("ct38-2030|dot")
    prefix = f"[Đợt: {TITLE}]\n"
    assert first.text.startswith(prefix) and "Câu 1/18" in first.text
    await officer.say("12-KH/HU, ngày 05/6/2017, Kế hoạch triển khai Chỉ thị 37-CT/TU")
    await officer.press("done|q:docs_party")
    await officer.press("na|q:docs_state")
    for text, _value in TYPED.values():
        [reply] = await officer.say(text)
        assert reply.text.startswith(prefix), reply.text
    assert "XEM LẠI" in officer.last.text
    [confirm] = (await officer.press("submit|review"))[1]
    [submitted] = (await officer.press("confirm|confirm"))[1]
    assert submitted.text.startswith(f"{prefix}Đã nộp báo cáo của {UNIT_NAME}")

    [menu] = await officer.say("/dot")
    assert button_data(menu) == ["ct38-2030|dot", "ct37-2022|dot"]
    _, [other] = await officer.press("ct37-2022|dot", message=menu)
    assert other.text.startswith(f"[Đợt: {CT37}]\n") and "Câu 1/18" in other.text
    await officer.say("/cau 3")
    [recorded] = await officer.say("7")
    assert recorded.text.startswith(f"[Đợt: {CT37}]\nĐã ghi câu 3: 7 đoàn")
    await deployment.settle()

    stored = answers_by_campaign(deployment.app.database)
    assert stored["ct38-2030"]["status"] == "submitted"
    assert stored["ct38-2030"]["inspection_teams"] == {"value": 5}
    assert stored["ct37-2022"] == {"status": "in_progress", "inspection_teams": {"value": 7}}


async def test_zalo_officer_picks_by_number_and_switches_with_the_word(fake, tmp_path):  # noqa: F811
    async with running(fake, tmp_path) as run:
        load_second(run.app.database, run.clock, tmp_path)
        user = "zalo-officer"
        replies = await run.link(user, run.invite("HU-NP"))
        assert replies[0] == f"Đã liên kết với {UNIT_NAME}."
        assert replies[1].endswith(
            f"1. {TITLE} (trước ngày 05/7/2030)\n2. {CT37} (trước ngày 05/7/2022)"
        )
        [first] = await run.say(user, "2")
        assert first.startswith(f"[Đợt: {CT37}]\n") and "Câu 1/18" in first
        await run.say(user, "/cau 3")
        [recorded] = await run.say(user, "5")
        assert recorded.startswith(f"[Đợt: {CT37}]\nĐã ghi câu 3: 5 đoàn")
        [menu] = await run.say(user, "đợt")
        assert "1. " in menu and "2. " in menu
        [other] = await run.say(user, "1")
        assert other.startswith(f"[Đợt: {TITLE}]\n")
        await run.say(user, "/cau 3")
        await run.say(user, "9")
        stored = answers_by_campaign(run.app.database)
        assert stored["ct37-2022"]["inspection_teams"] == {"value": 5}
        assert stored["ct38-2030"]["inspection_teams"] == {"value": 9}
