"""The web page in a real browser (system Chromium driven by Selenium) against the real
application: `runner.serve` with the fake Telegram server, as `baocao run` runs.

A secretariat member gets a sign-in link by sending /web on Telegram, opens it, sees the
overview match the seeded campaign, returns one report with a reason (the officer receives it on
the fake Telegram server), approves another, extends a deadline, downloads the workbook and
opens it, and is refused as another district's secretariat and as a stranger. Screenshots go to
the temporary directory (never the repository) for a person to look at.

Selenium blocks, so each browser step runs in a worker thread while the application keeps
serving on the test's event loop.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from storage.repository import current_campaign, submission_for, unit_by_code
from storage.signed_reports import store_signed_report
from tests.channels.test_telegram_e2e import (
    BOT_USERNAME,
    SECRETARY,
    TOKEN,
    Deployment,
    Person,
    free_port,
    link,
    link_officer,
)
from tests.fakes.telegram_server import FakeTelegramServer
from tests.web.conftest import add_contact, set_status

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOTS = Path(tempfile.gettempdir()) / "baocao-web-screenshots"

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip(
        "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )

from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402


@pytest.fixture
async def tg():
    async with FakeTelegramServer(token=TOKEN, bot_username=BOT_USERNAME) as server:
        yield server


@pytest.fixture
def chrome(tmp_path):
    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1100",
        "--lang=vi-VN",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    driver.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)}
    )
    yield driver
    driver.quit()


async def step(fn, *args):
    return await asyncio.to_thread(fn, *args)


def submit(driver, by: str, value: str) -> None:
    """Press a form's button and wait until the next page has replaced this one.

    The old page is marked with a window property that a new document does not have: waiting
    for the button to go stale instead asks Chromium about a node of a document being torn
    down, which some versions answer with an inspector error rather than "stale".
    """
    driver.execute_script("window.baocaoPageBeforeSubmit = true")
    driver.find_element(by, value).click()
    WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script(
            "return !window.baocaoPageBeforeSubmit && document.readyState === 'complete'"
        )
    )


def text_of(driver, css: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, css).text


async def downloaded(folder: Path, suffix: str, timeout: float = 20.0) -> Path:
    """The finished download in `folder` (Chromium writes a .crdownload file first)."""
    async with asyncio.timeout(timeout):
        while True:
            files = [p for p in folder.iterdir() if p.suffix == suffix]
            if files:
                return files[0]
            await asyncio.sleep(0.05)


async def test_the_secretariat_at_work_in_a_real_browser(tg, sqlite_url, clock, chrome, tmp_path):
    port = free_port()
    deployment = Deployment(
        tg,
        sqlite_url,
        clock,
        overrides={
            "baocao_http_port": port,
            "baocao_public_url": f"http://127.0.0.1:{port}",
            "baocao_data_dir": str(tmp_path / "data"),
        },
    )
    await deployment.start()
    try:
        database = deployment.app.database
        officer = Person(tg, 700_101, "Trần Thị Hoa")
        await link_officer(officer, deployment)
        secretary = Person(tg, SECRETARY, "Lê Văn Tổng")
        await link(secretary, deployment.invite("secretariat", None), deployment)
        for code, status in {
            "HU-NP": "submitted",
            "HU-NH": "submitted",
            "DU-PHUOCDAN": "in_progress",
        }.items():
            set_status(database, clock, code, status)

        # Sign in with the link /web gives on Telegram.
        (reply,) = await secretary.say("/web")
        url = re.search(r"http://\S+/web/vao/\S+", reply.text).group(0)
        await step(chrome.get, url)
        await step(submit, chrome, By.CSS_SELECTOR, "button.primary")
        assert await step(text_of, chrome, "#so-da-nop") == "2"
        assert await step(text_of, chrome, "#so-dang-dien") == "1"
        assert await step(text_of, chrome, "#so-chua-bat-dau") == "10"
        SCREENSHOTS.mkdir(exist_ok=True)
        await step(chrome.save_screenshot, str(SCREENSHOTS / "tong-quan.png"))
        await step(chrome.set_window_size, 390, 1600)  # a phone's width
        await step(chrome.refresh)
        await step(chrome.save_screenshot, str(SCREENSHOTS / "tong-quan-dien-thoai.png"))
        await step(chrome.set_window_size, 1280, 1100)

        # Return HU-NP with a reason: its officer gets it on Telegram.
        await step(chrome.get, f"http://127.0.0.1:{port}/web/don-vi/HU-NP")
        await step(lambda: chrome.find_element(By.ID, "ly-do").send_keys("Thiếu số liệu mục 4"))
        before = len(officer.messages())
        await step(submit, chrome, By.ID, "nut-tra-lai")
        assert "Đã trả lại" in await step(text_of, chrome, ".notice")
        assert await step(text_of, chrome, "#tinh-trang") == "bị trả lại"
        await officer._expect(before, 1)
        assert "Thiếu số liệu mục 4" in officer.last.text
        await step(chrome.save_screenshot, str(SCREENSHOTS / "don-vi.png"))

        # Approve HU-NH, through Duyệt's confirmation page.
        await step(chrome.get, f"http://127.0.0.1:{port}/web/don-vi/HU-NH")
        await step(submit, chrome, By.ID, "nut-duyet")
        assert deployment.submission_status("HU-NH") == "submitted"
        await step(submit, chrome, By.ID, "nut-xac-nhan-duyet")
        assert await step(text_of, chrome, "#tinh-trang") == "đã duyệt"
        assert deployment.submission_status("HU-NH") == "approved"

        # Extend DU-PHUOCDAN's deadline.
        await step(chrome.get, f"http://127.0.0.1:{port}/web/don-vi/DU-PHUOCDAN")
        await step(
            lambda: chrome.execute_script(
                "document.getElementById('ngay-gia-han').value = '2022-07-20'"
            )
        )
        await step(submit, chrome, By.ID, "nut-gia-han")
        assert "đến hết ngày 20/7/2022" in await step(text_of, chrome, "#han-nop")

        # Download the consolidated workbook and open it.
        await step(chrome.get, f"http://127.0.0.1:{port}/web/tai-ve")
        await step(lambda: chrome.find_element(By.ID, "tai-tong-hop").click())
        workbook = load_workbook(await downloaded(tmp_path, ".xlsx"))
        assert workbook.sheetnames[:3] == ["Biểu số 01", "Biểu số 02", "Biểu số 03"]

        # HU-NH's signed report, sent back in the chat: listed on its page, downloaded as it is.
        send_signed_report(deployment, "HU-NH", "Báo cáo Ninh Hải.pdf", SIGNED_PDF)
        await step(chrome.get, f"http://127.0.0.1:{port}/web/don-vi/HU-NH")
        table = await step(text_of, chrome, "#bao-cao-ky")
        assert "Báo cáo Ninh Hải.pdf" in table and f"{len(SIGNED_PDF)} byte" in table
        await step(
            lambda: chrome.execute_script(
                "document.getElementById('bao-cao-ky').scrollIntoView({block: 'center'})"
            )
        )
        await step(chrome.save_screenshot, str(SCREENSHOTS / "bao-cao-ky.png"))
        await step(lambda: chrome.find_element(By.CSS_SELECTOR, "#bao-cao-ky a").click())
        assert (await downloaded(tmp_path, ".pdf")).read_bytes() == SIGNED_PDF

        # The log shows what was done here.
        await step(chrome.get, f"http://127.0.0.1:{port}/web/nhat-ky?kenh=web")
        log = await step(text_of, chrome, "table.log")
        assert "Trả lại" in log and "Duyệt" in log and "Gia hạn" in log and "Đăng nhập" in log

        # Another district's secretariat: HU-NH does not exist for them.
        district = add_contact(database, clock, "Huyện Ninh Phước", unit="HU-NP")
        await step(submit, chrome, By.CSS_SELECTOR, ".signout button")
        token_url = Browserless(deployment).link(district, port)
        await step(chrome.get, token_url)
        await step(submit, chrome, By.CSS_SELECTOR, "button.primary")
        assert await step(text_of, chrome, "#so-da-nop") == "0"
        await step(chrome.get, f"http://127.0.0.1:{port}/web/don-vi/HU-NH")
        assert await step(text_of, chrome, "p.message") == "Không tìm thấy."

        # A stranger (no cookie) learns nothing.
        await step(chrome.delete_all_cookies)
        await step(chrome.get, f"http://127.0.0.1:{port}/web/don-vi/HU-NP")
        assert "Cần đăng nhập" in await step(text_of, chrome, "p.message")
        assert "Ninh Phước" not in await step(lambda: chrome.page_source)
    finally:
        await deployment.stop()


SIGNED_PDF = b"%PDF-1.4\nsigned by Huyen uy Ninh Hai\n%%EOF\n"


def send_signed_report(deployment: Deployment, code: str, name: str, data: bytes) -> None:
    """Store a signed report as the chat's intake does (file in the data folder, row in the
    database)."""
    app = deployment.app
    with app.database.transaction() as session:
        submission = submission_for(session, current_campaign(session), unit_by_code(session, code))
        store_signed_report(
            session,
            app.settings.baocao_data_dir,
            submission_id=submission.id,
            file_name=name,
            content_type="application/pdf",
            data=data,
            contact_id=None,
            channel="telegram",
            now=app.clock(),
        )


class Browserless:
    """A sign-in link made on the server, as `baocao web-link --contact ID` makes it."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    def link(self, contact_id: int, port: int) -> str:
        from bot import use_cases
        from storage.models import Contact

        def make(session):
            contact = session.get(Contact, contact_id)
            return use_cases.web_sign_in_link(
                session,
                self.deployment.clock(),
                self.deployment.app.desk,
                contact=contact,
                actor=use_cases.OPERATOR,
            )

        return self.deployment.query(make)


# --- the workspace: search, review, honest actions, every page at two widths, axe-core ----------

AXE_SCRIPT = None


def axe_source() -> str:
    """axe-core as bundled by the axe-selenium-python package (no download at test time)."""
    global AXE_SCRIPT
    if AXE_SCRIPT is None:
        axe_package = pytest.importorskip("axe_selenium_python")
        path = Path(axe_package.__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
        AXE_SCRIPT = path.read_text(encoding="utf-8")
    return AXE_SCRIPT


def audit(driver, name: str) -> None:
    """The current page at 1280 px and at a phone's 390 px: a screenshot of each, no
    horizontal overflow of the page (a wide table scrolls inside its own box), and no axe-core
    violation of the default rules (colour contrast at AA among them)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    problems = []
    for width in (1280, 390):
        driver.set_window_size(width, 1100)
        driver.refresh()
        driver.save_screenshot(str(SCREENSHOTS / f"{name}-{width}.png"))
        inner, scroll = driver.execute_script(
            "return [window.innerWidth, document.documentElement.scrollWidth]"
        )
        if scroll > inner:
            problems.append(f"{name} at {width}px: page is {scroll}px wide in {inner}px")
        driver.execute_script(axe_source())
        driver.set_script_timeout(60)
        result = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document).then(r => done(r.violations.map(v => "
            "[v.id, v.impact, v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': ' + "
            "(n.failureSummary || '')).join(' | ')])))"
            ".catch(e => done([['axe', 'error', String(e)]]));"
        )
        problems.extend(
            f"{name} at {width}px: {rule} ({impact}): {where}" for rule, impact, where in result
        )
    driver.set_window_size(1280, 1100)
    assert not problems, "\n".join(problems)


async def test_the_workspace_in_a_real_browser_at_two_widths(
    tg, sqlite_url, clock, chrome, tmp_path
):
    import unicodedata

    from sqlmodel import select

    from storage.models import Invite

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    deployment = Deployment(
        tg,
        sqlite_url,
        clock,
        overrides={
            "baocao_http_port": port,
            "baocao_public_url": base,
            "baocao_data_dir": str(tmp_path / "data"),
        },
    )
    await deployment.start()
    try:
        database = deployment.app.database
        officer = Person(tg, 700_102, "Phạm Văn Minh")
        await link_officer(officer, deployment)  # HU-NP's officer
        secretary = Person(tg, SECRETARY, "Lê Văn Tổng")
        await link(secretary, deployment.invite("secretariat", None), deployment)
        for code, status in {"HU-NH": "submitted", "DU-TRIHAI": "submitted"}.items():
            set_status(database, clock, code, status)

        (reply,) = await secretary.say("/web")
        url = re.search(r"http://\S+/web/vao/\S+", reply.text).group(0)
        await step(chrome.get, url)
        await step(audit, chrome, "dang-nhap")
        await step(submit, chrome, By.CSS_SELECTOR, "button.primary")
        await step(audit, chrome, "tong-quan")

        # Search without diacritics, and with «Phước» in decomposed form (NFD).
        await step(chrome.get, f"{base}/web/don-vi")
        await step(lambda: chrome.find_element(By.ID, "tim").send_keys("ninh phuoc"))
        await step(submit, chrome, By.CSS_SELECTOR, ".filters button")
        assert (await step(text_of, chrome, "#so-ket-qua")).startswith("1 / 13")
        assert "tim=ninh+phuoc" in await step(lambda: chrome.current_url)
        decomposed = unicodedata.normalize("NFD", "Phước")
        await step(
            lambda: chrome.execute_script(
                "document.getElementById('tim').value = arguments[0]", decomposed
            )
        )
        await step(submit, chrome, By.CSS_SELECTOR, ".filters button")
        assert (await step(text_of, chrome, "#so-ket-qua")).startswith("2 / 13")
        await step(audit, chrome, "don-vi-tim")
        await step(chrome.get, f"{base}/web/don-vi?tim=khong+co+dau")
        assert "«khong co dau»" in await step(text_of, chrome, "#khong-thay")
        await step(chrome.get, f"{base}/web/don-vi")
        await step(audit, chrome, "don-vi")

        # Duyệt needs its confirmation; cancelling changes nothing.
        await step(chrome.get, f"{base}/web/don-vi/HU-NH")
        await step(audit, chrome, "don-vi-cho-duyet")
        await step(submit, chrome, By.ID, "nut-duyet")
        await step(audit, chrome, "xac-nhan-duyet")
        await step(submit, chrome, By.ID, "nut-huy-duyet")
        assert deployment.submission_status("HU-NH") == "submitted"
        await step(submit, chrome, By.ID, "nut-duyet")
        await step(submit, chrome, By.ID, "nut-xac-nhan-duyet")
        assert await step(text_of, chrome, "#tinh-trang") == "đã duyệt"
        assert "Đã duyệt báo cáo lúc" in await step(text_of, chrome, "#thong-bao")

        # Mời, then reload: the same live code, and only one.
        await step(chrome.get, f"{base}/web/don-vi/DU-PHUOCDAN")
        await step(submit, chrome, By.ID, "nut-moi")
        code = await step(text_of, chrome, "#ma-moi")
        await step(chrome.refresh)
        assert await step(text_of, chrome, "#ma-moi") == code
        await step(audit, chrome, "ma-moi")

        def invites_of_phuocdan(session):
            unit = unit_by_code(session, "DU-PHUOCDAN")
            return len(session.exec(select(Invite).where(Invite.unit_id == unit.id)).all())

        assert deployment.query(invites_of_phuocdan) == 1

        # Nhắc for a unit with nobody to receive it is refused, saying why.
        await step(chrome.get, f"{base}/web/don-vi/DU-PHUOCDAN")
        await step(submit, chrome, By.ID, "nut-nhac")
        assert "không có ai để nhắc" in await step(text_of, chrome, "#loi")

        # Nhắc for every unit of a filter: one confirmation; HU-NP's officer gets it.
        await step(chrome.get, f"{base}/web/don-vi?huyen=HU-NP")
        await step(submit, chrome, By.ID, "nhac-ca-loc")
        assert await step(text_of, chrome, "#se-nhac") == "1 đơn vị"
        await step(audit, chrome, "nhac-ca-loc")
        await step(submit, chrome, By.ID, "nut-nhac-ca-loc")
        assert "Đã xếp 1 tin nhắc cho 1 đơn vị" in await step(text_of, chrome, ".notice")
        assert "huyen=HU-NP" in await step(lambda: chrome.current_url)

        for path, name in (
            ("/web/nhat-ky", "nhat-ky"),
            ("/web/tai-ve", "tai-ve"),
            ("/web/khong-co-trang-nay", "khong-tim-thay"),
        ):
            await step(chrome.get, base + path)
            await step(audit, chrome, name)
        assert "Không có trang này" in await step(text_of, chrome, "p.message")
    finally:
        await deployment.stop()
