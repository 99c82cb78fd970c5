"""Hostile input against every route of the real web server: the whole application (staff
pages, upload page, download links, Telegram and Zalo webhooks with their fake servers) runs on
real SQLite and PostgreSQL in a thread of its own, and each request goes over real HTTP.

First the findings one by one (a NUL in a file name, an id of 10^23, Gia hạn to 9999-12-31,
deeply nested and huge webhook JSON), then a fuzz test: hypothesis (derandomised, so every run
is the same) sends random and hostile values (NUL, bidi, huge and negative numbers, very long
strings, impossible dates, bad UTF-8 bytes) in every path part, query parameter and form field.
Nothing may answer 5xx, and nothing may log a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
from dataclasses import dataclass
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from bot import use_cases
from bot.app import assemble, build_app
from bot.channels.telegram import TelegramChannel
from bot.channels.zalo import ZaloChannel
from bot.runner import serve
from bot.settings import Settings
from bot.signed_intake import upload_link
from storage.repository import current_campaign, unit_by_code
from tests.fakes.telegram_server import FakeTelegramServer
from tests.fakes.zalo_server import FakeZaloServer, build_update
from tests.web.conftest import CSRF, add_contact

TG_TOKEN = "123456789:AAH-fake-token-for-tests_0123456789"
ZALO_TOKEN = "1234:zalo-secret"
SECRET = "s3cret-s3cret-s3cret"
BOUNDARY = "fuzz-boundary-1d2c3b4a"
PDF = b"%PDF-1.7\n" + b"x" * 2000 + b"\n%%EOF\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Live:
    """The application on its own event loop (a thread), and a signed-in HTTP client."""

    loop: asyncio.AbstractEventLoop
    base: str
    upload_path: str = ""
    csrf: str = ""
    client: aiohttp.ClientSession | None = None

    def run(self, coroutine, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def request(
        self, method: str, path: str, *, query: str = "", body=None, headers=None
    ) -> tuple[int, str]:
        url = URL(f"{self.base}{path}" + (f"?{query}" if query else ""), encoded=True)
        async with self.client.request(
            method, url, data=body, headers=headers or {}, allow_redirects=False
        ) as response:
            return response.status, await response.text(errors="replace")


@pytest.fixture
def live(database_url, clock, tmp_path):
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    stop = asyncio.Event()
    state: dict = {}

    async def start() -> Live:
        tg = FakeTelegramServer(token=TG_TOKEN, bot_username="baocao_test_bot")
        zalo = FakeZaloServer(token=ZALO_TOKEN)
        await tg.__aenter__()
        await zalo.__aenter__()
        port = free_port()
        values = {
            "baocao_database_url": database_url,
            "telegram_bot_token": TG_TOKEN,
            "telegram_api_base_url": tg.base_url,
            "telegram_bot_username": None,
            "zalo_bot_token": ZALO_TOKEN,
            "zalo_api_base_url": zalo.base_url,
            "baocao_webhook_url": "https://example.test",
            "baocao_webhook_secret": SECRET,
            "baocao_public_url": f"http://127.0.0.1:{port}",
            "baocao_http_host": "127.0.0.1",
            "baocao_http_port": port,
            "baocao_data_dir": str(tmp_path / "data"),
            "baocao_send_rate": 10_000.0,
            "baocao_chat_interval": 0.0,
            "baocao_scheduler": False,
        }
        settings_ = Settings(_env_file=None, **values)
        app = build_app(settings_, clock=clock)
        channels = [TelegramChannel(settings_), ZaloChannel(settings_)]
        started = asyncio.Event()
        task = asyncio.create_task(serve(assemble(app, channels), stop, started=started))
        async with asyncio.timeout(15):
            await started.wait()
        state.update(tg=tg, zalo=zalo, app=app, task=task)
        running = Live(loop, f"http://127.0.0.1:{port}")
        # A browser on our own page sends its origin with every form (the sign-in checks it).
        running.client = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Origin": running.base}
        )
        await _sign_in(running, app)
        return running

    running = asyncio.run_coroutine_threadsafe(start(), loop).result(40)

    yield running

    async def finish() -> None:
        await running.client.close()
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(state["task"], timeout=15)
        state["app"].close()
        await state["zalo"].__aexit__(None, None, None)
        await state["tg"].__aexit__(None, None, None)

    asyncio.run_coroutine_threadsafe(finish(), loop).result(40)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


async def _sign_in(running: Live, app) -> None:
    database, clock = app.database, app.clock
    province = add_contact(database, clock, "Lan")
    officer = add_contact(database, clock, "Zung", role="officer", unit="HU-NP", channel="zalo")
    with database.transaction() as session:
        from storage.models import Contact

        link = use_cases.web_sign_in_link(
            session,
            clock(),
            app.desk,
            contact=session.get(Contact, province),
            actor=use_cases.OPERATOR,
        )
        campaign = current_campaign(session)
        upload = upload_link(
            session,
            clock(),
            "",
            campaign_id=campaign.id,
            unit_id=unit_by_code(session, "HU-NP").id,
            contact_id=officer,
        )
    running.upload_path = upload
    status, _ = await running.request("POST", "/web/vao/" + link.split("/web/vao/")[1])
    assert status == 303
    _, page = await running.request("GET", "/web/")
    running.csrf = CSRF.search(page).group(1)


def no_tracebacks(caplog) -> None:
    bad = [
        record
        for record in caplog.records
        if record.exc_info or record.levelno >= logging.ERROR or "Traceback" in record.message
    ]
    assert not bad, [record.getMessage() for record in bad]


# --- the findings, one by one --------------------------------------------------------------------


def multipart(filename: bytes, content_type: str, data: bytes) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="tep"; filename="'.encode()
        + filename
        + f'"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
TG_HOOK = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
ZALO_HOOK = {"X-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}


def test_each_finding_is_a_4xx_in_vietnamese(live, caplog):
    caplog.set_level(logging.INFO)
    run, ask = live.run, live.request
    csrf = f"csrf={live.csrf}"

    status, text = run(
        ask(
            "POST",
            live.upload_path,
            body=multipart(b"a\x00.pdf", "application/pdf", PDF),
            headers=MULTIPART,
        )
    )
    assert status == 400 and "Không đọc được tệp gửi lên" in text

    huge = str(10**23)
    status, text = run(ask("GET", f"/web/tai-ve/don-vi/HU-NP/bao-cao-ky/{huge}"))
    assert status == 400 and "Mã tệp «1000000000000000000…» không hợp lệ." in text
    status, text = run(ask("GET", "/web/don-vi", query=f"trang={huge}"))
    assert status == 400 and "Số trang" in text
    status, text = run(ask("GET", "/web/don-vi", query="trang=%C2%B2"))  # "²" is a digit to str
    assert status == 400

    status, text = run(
        ask("POST", "/web/don-vi/HU-NP/gia-han", body=f"{csrf}&ngay=9999-12-31", headers=FORM)
    )
    assert status == 400
    assert "ngày gia hạn 31/12/9999 không hợp lệ: chỉ chọn ngày từ năm 2000 đến năm 2100" in text
    status, text = run(
        ask("POST", "/web/don-vi/HU-NP/gia-han", body=f"{csrf}&ngay=2022-02-30", headers=FORM)
    )
    assert status == 400 and "ngày gia hạn không hợp lệ (chọn một ngày)" in text

    status, text = run(
        ask("POST", "/web/don-vi/HU-NP/tra-lai", body=f"{csrf}&ly_do=a%00b".encode(), headers=FORM)
    )
    assert status == 400 and "ký tự không hợp lệ" in text
    status, _ = run(
        ask(
            "POST",
            "/web/don-vi/HU-NP/tra-lai",
            body=f"{csrf}&ly_do=".encode() + b"\xff\xfe",
            headers=FORM,
        )
    )
    assert status == 400
    status, text = run(ask("GET", "/web/don-vi/a%00b"))
    assert status == 400 and "Đường dẫn có ký tự không hợp lệ." in text

    nested = "[" * 100_000 + "]" * 100_000
    shallow_but_deep = json.dumps({"update_id": 1, "x": json.loads("[" * 60 + "]" * 60)})
    for hook, headers in (("/telegram/webhook", TG_HOOK), ("/zalo/webhook", ZALO_HOOK)):
        for body in (nested, shallow_but_deep, "{" * 5, '"text"', "x" * (3 * 1024 * 1024)):
            status, _ = run(ask("POST", hook, body=body, headers=headers))
            assert status == 400, (hook, body[:20], status)
    no_tracebacks(caplog)


def test_a_nul_in_an_update_is_dropped_not_a_failure(live, caplog):
    caplog.set_level(logging.INFO)
    tg_update = {
        "update_id": 77,
        "message": {
            "message_id": 1,
            "date": 1_655_686_800,
            "chat": {"id": 5151, "type": "private"},
            "from": {"id": 5151, "is_bot": False, "first_name": "A\u0000"},
            "text": "xin\u0000 chào",
        },
    }
    status, _ = live.run(
        live.request("POST", "/telegram/webhook", body=json.dumps(tg_update), headers=TG_HOOK)
    )
    assert status == 200
    zalo_update = build_update("text", "zalo-x", text="a\u0000b\u202e")
    status, _ = live.run(
        live.request("POST", "/zalo/webhook", body=json.dumps(zalo_update), headers=ZALO_HOOK)
    )
    assert status == 200
    no_tracebacks(caplog)


# --- the fuzz test -------------------------------------------------------------------------------

HOSTILE = [
    "\x00",
    "a\x00b",
    "\u202egpj.exe",
    "\u200b\ufeff",
    "\u2066x\u2069",
    "-1",
    "0",
    "-0",
    str(10**23),
    str(-(10**23)),
    str(2**31),
    str(2**63),
    "1e23",
    "NaN",
    "inf",
    "1.5",
    "²",
    "١٢",
    "9999-12-31",
    "0000-00-00",
    "2022-02-30",
    "10000-01-01",
    "1-1-1",
    "2022-06-20T00:00",
    "x" * 5000,
    "../../etc/passwd",
    "%00",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "HU-NP",
    "TU-PRTC",
    "nhac",
    "duyet",
    "12:30",
    "",
]
text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=40),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
)
raw = st.one_of(  # bytes as a client may put them in a query or a form, valid UTF-8 or not
    text.map(lambda value: quote(value, safe="").encode()),
    st.binary(max_size=20).map(lambda value: b"".join(b"%%%02X" % byte for byte in value)),
    st.sampled_from([b"%FF%FE", b"%ED%A0%80", b"%C0%AF", b"\xff"]),
)
PATHS = [
    "/tai-ve/{}",
    "/web/vao/{}",
    "/web/don-vi/{}",
    "/web/tai-ve/don-vi/{}.xlsx",
    "/web/tai-ve/don-vi/HU-NP/bao-cao-ky/{}",
    "/web/tai-ve/don-vi/{}/bao-cao-ky/1",
    "/gui-bao-cao/{}",
    "/web/don-vi/{}/duyet",
    "/web/don-vi/{}/tra-lai",
    "/web/don-vi/{}/gia-han",
    "/web/don-vi/{}/nhac",
    "/web/don-vi/{}/moi",
]
QUERY_PAGES = {
    "/web/don-vi": ["nhom", "cap", "trang-thai", "tim", "trang"],
    "/web/don-vi/HU-NP": ["xong", "so", "luc"],
    "/web/nhat-ky": ["kenh", "viec"],
    "/web/": [],
    "/web/tai-ve": [],
    "/healthz": [],
}
FORMS = {
    "/web/don-vi/TU-PRTC/tra-lai": ["ly_do"],
    "/web/don-vi/DU-PHUOCDAN/gia-han": ["ngay"],
    "/web/don-vi/HU-NH/duyet": [],
    "/web/don-vi/HU-NH/nhac": [],
    "/web/don-vi/HU-NH/moi": [],
    "/web/thoat": [],
}
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def check(status: int, what) -> None:
    assert status < 500, what


@FUZZ
@given(path=st.sampled_from(PATHS), value=text, method=st.sampled_from(["GET", "POST"]))
def test_fuzz_path_parts(live, caplog, path, value, method):
    caplog.set_level(logging.WARNING)
    caplog.clear()  # one example at a time
    target = path.format(quote(value, safe="") or "x")
    body = f"csrf={live.csrf}".encode() if method == "POST" else None
    status, _ = live.run(live.request(method, target, body=body, headers=FORM))
    check(status, (method, target))
    no_tracebacks(caplog)


@FUZZ
@given(page=st.sampled_from(sorted(QUERY_PAGES)), values=st.lists(raw, min_size=1, max_size=5))
def test_fuzz_queries(live, caplog, page, values):
    caplog.set_level(logging.WARNING)
    caplog.clear()  # one example at a time
    names = QUERY_PAGES[page] or ["x"]
    query = b"&".join(
        names[i % len(names)].encode() + b"=" + value for i, value in enumerate(values)
    )
    status, _ = live.run(live.request("GET", page, query=query.decode("latin-1")))
    check(status, (page, query))
    no_tracebacks(caplog)


@FUZZ
@given(
    form=st.sampled_from(sorted(FORMS)),
    values=st.lists(raw, min_size=1, max_size=3),
    with_csrf=st.booleans(),
)
def test_fuzz_forms(live, caplog, form, values, with_csrf):
    caplog.set_level(logging.WARNING)
    caplog.clear()  # one example at a time
    names = FORMS[form] or ["x"]
    fields = [names[i % len(names)].encode() + b"=" + v for i, v in enumerate(values)]
    if with_csrf:
        fields.insert(0, f"csrf={live.csrf}".encode())
    status, _ = live.run(live.request("POST", form, body=b"&".join(fields), headers=FORM))
    check(status, (form, fields))
    no_tracebacks(caplog)


@FUZZ
@given(
    name=st.one_of(text.map(str.encode), st.binary(max_size=30)),
    content_type=st.sampled_from(
        ["application/pdf", "image/png", "text/html", "application/pdf; charset=x", "", "x/\x00"]
    ),
    data=st.one_of(
        st.just(PDF), st.binary(max_size=300), st.just(b"\x89PNG\r\n\x1a\n" + b"0" * 50)
    ),
)
def test_fuzz_the_upload_page(live, caplog, name, content_type, data):
    caplog.set_level(logging.WARNING)
    caplog.clear()  # one example at a time
    body = multipart(
        name.replace(b'"', b"").replace(b"\r", b"").replace(b"\n", b""), content_type, data
    )
    status, _ = live.run(live.request("POST", live.upload_path, body=body, headers=MULTIPART))
    check(status, (name, content_type))
    no_tracebacks(caplog)


def _nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


@FUZZ
@given(
    hook=st.sampled_from(["/telegram/webhook", "/zalo/webhook"]),
    body=st.one_of(
        st.recursive(
            st.none() | st.booleans() | st.integers() | text,
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
            max_leaves=12,
        ).map(json.dumps),
        st.integers(min_value=1, max_value=200).map(
            lambda depth: json.dumps({"update_id": 1, "message": _nested(depth)})
        ),
        text.map(lambda value: json.dumps(build_update("text", "zalo-fuzz", text=value))),
        st.binary(max_size=50),
    ),
)
def test_fuzz_the_webhooks(live, caplog, hook, body):
    caplog.set_level(logging.WARNING)
    caplog.clear()  # one example at a time
    headers = TG_HOOK if hook.startswith("/telegram") else ZALO_HOOK
    status, _ = live.run(live.request("POST", hook, body=body, headers=headers))
    check(status, (hook, body[:80]))
    no_tracebacks(caplog)
