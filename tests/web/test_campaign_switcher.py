"""The web page with two open campaigns (issue #22), over HTTP on SQLite and PostgreSQL: the
header's switcher lists them, `?dot=CODE` picks one and is remembered for the next pages, and
the pages and downloads follow the campaign shown."""

from __future__ import annotations

import re

import yaml

from conversations.campaigns import BUNDLED_CAMPAIGN, load_campaign
from conversations.forms import BUNDLED_FORMS
from storage.repository import save_campaign

TITLE = "Sơ kết Quy chế dân chủ ở cơ sở năm 2030"
SELECTED = re.compile(r'<option value="([^"]+)" selected>')


def load_second(database, clock, tmp_path) -> None:
    raw = yaml.safe_load(BUNDLED_CAMPAIGN.read_text(encoding="utf-8"))
    raw.update(
        code="ct38-2030",
        title=TITLE,
        deadline="2030-07-05T00:00:00+07:00",
        form=str(BUNDLED_FORMS / "ct37_phuluc.yaml"),
        participants={"units": ["HU-NH"]},
    )
    raw.pop("outline")
    path = tmp_path / "ct38-2030.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with database.transaction() as session:
        save_campaign(session, load_campaign(path), clock())


async def test_the_switcher_picks_the_campaign_of_every_page(
    web, seeded, database, clock, tmp_path
):
    load_second(database, clock, tmp_path)
    browser = await web()
    await browser.sign_in(seeded["province"])

    page = await (await browser.get("/web/don-vi")).text()
    assert '<select id="dot" name="dot">' in page
    assert (
        f"{TITLE} (đang mở)" in page
        and "Kiểm tra việc thực hiện Chỉ thị 37-CT/TU (đang mở)" in page
    )
    assert SELECTED.findall(page) == ["ct38-2030"]  # several open: the latest deadline first
    assert "Ninh Hải" in page and "Ninh Phước" not in page  # ct38-2030 is HU-NH's only

    page = await (await browser.get("/web/don-vi?dot=ct37-2022")).text()
    assert SELECTED.findall(page) == ["ct37-2022"]
    assert "Ninh Phước" in page and "Ninh Hải" in page
    page = await (await browser.get("/web/")).text()  # remembered without the parameter
    assert SELECTED.findall(page) == ["ct37-2022"]
    unit = await (await browser.get("/web/don-vi/HU-NP")).text()
    assert unit.count("Ninh Phước") >= 1 and SELECTED.findall(unit) == ["ct37-2022"]

    response = await browser.get("/web/tai-ve/tong-hop.xlsx?dot=ct38-2030")
    assert response.status == 200
    assert "CT38-2030" in response.headers["Content-Disposition"]
    response = await browser.get("/web/tai-ve/tong-hop.xlsx?dot=ct37-2022")
    assert "CT37-2022" in response.headers["Content-Disposition"]
    # Nhắc follows the campaign shown: HU-NH is approved in CT37, not started in ct38-2030.
    await browser.get("/web/don-vi/HU-NH?dot=ct38-2030")
    response = await browser.post("/web/don-vi/HU-NH/nhac")
    assert response.status == 303 and "so=1" in response.headers["Location"]
    await browser.get("/web/don-vi/HU-NH?dot=ct37-2022")
    response = await browser.post("/web/don-vi/HU-NH/nhac")
    assert response.status == 303 and "so=0" in response.headers["Location"]
    # A code that names no campaign shows the default one, never an error.
    assert (await browser.get("/web/don-vi?dot=khong-co")).status == 200
    assert (await browser.get("/web/don-vi?dot=%3Cscript%3E")).status == 200
    assert (await browser.get("/web/nhat-ky")).status == 200


async def test_one_campaign_shows_no_switcher(web, seeded):
    browser = await web()
    await browser.sign_in(seeded["province"])
    page = await (await browser.get("/web/")).text()
    assert 'name="dot"' not in page
