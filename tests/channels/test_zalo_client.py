"""Tests for the Zalo Bot API client (bot.channels.zalo_client) against the fake Zalo server.

Everything goes over real HTTP on 127.0.0.1; waiting is event-driven (fake-server futures,
asyncio tasks), never a sleep.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.zalo_client import (
    TEXT_LIMIT,
    ZaloApiError,
    ZaloBotClient,
    ZaloIncoming,
    parse_update,
    split_text,
)
from tests.fakes.zalo_server import FakeZaloServer, build_update

TOKEN = "1234:zalo-secret"


@pytest.fixture
async def zl():
    async with FakeZaloServer(token=TOKEN) as server:
        yield server


@pytest.fixture
async def client(zl: FakeZaloServer):
    bot = ZaloBotClient(zl.token, base_url=zl.base_url, request_timeout=5.0)
    yield bot
    await bot.close()


# -- calls ---------------------------------------------------------------------------------------


async def test_get_me(client: ZaloBotClient, zl: FakeZaloServer) -> None:
    me = await client.get_me()
    assert me == {
        "id": "1234",
        "account_name": "bot.baocao",
        "account_type": "BASIC",
        "can_join_groups": False,
    }
    assert zl.calls["getMe"] == 1


async def test_get_updates_returns_injected_update(
    client: ZaloBotClient, zl: FakeZaloServer
) -> None:
    message_id = zl.inject_text("user-1", "Xin chào", display_name="Nguyễn Văn A")
    update = await client.get_updates(timeout=0)
    assert update is not None
    assert update["event_name"] == "message.text.received"
    assert update["message"]["message_id"] == message_id
    assert update["message"]["chat"] == {"id": "user-1", "chat_type": "PRIVATE"}
    assert update["message"]["from"]["display_name"] == "Nguyễn Văn A"
    assert update["message"]["text"] == "Xin chào"
    assert zl.pending_updates == 0


async def test_get_updates_empty_poll_returns_none(
    client: ZaloBotClient, zl: FakeZaloServer
) -> None:
    assert await client.get_updates(timeout=0) is None
    assert zl.calls["getUpdates"] == 1


async def test_get_updates_one_update_per_call_oldest_first(
    client: ZaloBotClient, zl: FakeZaloServer
) -> None:
    first = zl.inject_text("user-1", "một")
    second = zl.inject_text("user-2", "hai")
    got = [await client.get_updates(timeout=0) for _ in range(3)]
    assert got[0] is not None and got[0]["message"]["message_id"] == first
    assert got[1] is not None and got[1]["message"]["message_id"] == second
    assert got[2] is None


async def test_long_poll_wakes_up_when_a_message_arrives(
    client: ZaloBotClient, zl: FakeZaloServer
) -> None:
    poll = asyncio.create_task(client.get_updates(timeout=30))
    await zl.wait_for_active_polls(1)
    assert not poll.done()
    message_id = zl.inject_text("user-1", "Báo cáo")
    update = await asyncio.wait_for(poll, timeout=5)
    assert update is not None and update["message"]["message_id"] == message_id


async def test_replayed_message_id_is_delivered_twice(
    client: ZaloBotClient, zl: FakeZaloServer
) -> None:
    message_id = zl.inject_text("user-1", "12")
    assert zl.inject_text("user-1", "12", message_id=message_id) == message_id
    first = parse_update(await client.get_updates(timeout=0))
    second = parse_update(await client.get_updates(timeout=0))
    assert first is not None and second is not None
    assert first.message_id == second.message_id == message_id


async def test_send_message_records_text(client: ZaloBotClient, zl: FakeZaloServer) -> None:
    result = await client.send_message("user-1", "Đã ghi nhận số liệu.")
    assert isinstance(result["message_id"], str) and result["message_id"]
    assert isinstance(result["date"], int)
    sent = await zl.wait_for(1, chat_id="user-1")
    assert [(m.chat_id, m.text) for m in sent] == [("user-1", "Đã ghi nhận số liệu.")]
    assert sent[0].message_id == result["message_id"]
    assert zl.sent("someone-else") == []


async def test_send_message_limit(client: ZaloBotClient, zl: FakeZaloServer) -> None:
    await client.send_message("user-1", "x" * TEXT_LIMIT)
    with pytest.raises(ZaloApiError) as too_long:
        await client.send_message("user-1", "x" * (TEXT_LIMIT + 1))
    assert too_long.value.error_code == 400
    assert "too long" in too_long.value.description
    with pytest.raises(ZaloApiError) as empty:
        await client.send_message("user-1", "")
    assert empty.value.error_code == 400
    assert len(zl.sent()) == 1


async def test_send_chat_action(client: ZaloBotClient, zl: FakeZaloServer) -> None:
    assert await client.send_chat_action("user-1") is None
    assert [(a.chat_id, a.action) for a in zl.chat_actions()] == [("user-1", "typing")]


async def test_ok_false_with_http_200_raises(client: ZaloBotClient, zl: FakeZaloServer) -> None:
    zl.fail_next("sendMessage", error_code=429, description="Quota exceeded", times=2)
    for _ in range(2):
        with pytest.raises(ZaloApiError) as err:
            await client.send_message("user-1", "Xin chào")
        assert err.value.error_code == 429
        assert err.value.description == "Quota exceeded"
        assert err.value.method == "sendMessage"
    await client.send_message("user-1", "Xin chào")
    assert zl.calls["sendMessage"] == 3
    assert len(zl.sent()) == 1


async def test_non_json_answer_raises_with_http_status(
    client: ZaloBotClient, zl: FakeZaloServer
) -> None:
    zl.fail_next(
        "getMe", error_code=0, description="", http_status=502, raw_body="<html>Bad Gateway</html>"
    )
    with pytest.raises(ZaloApiError) as err:
        await client.get_me()
    assert err.value.error_code == 502

    zl.fail_next("getMe", error_code=0, description="", http_status=200, raw_body="not json")
    with pytest.raises(ZaloApiError) as err:
        await client.get_me()
    assert err.value.error_code == 200


async def test_wrong_token_is_401_and_never_leaks(zl: FakeZaloServer) -> None:
    wrong = "1234:wrong-secret-value"
    async with ZaloBotClient(wrong, base_url=zl.base_url) as bot:
        with pytest.raises(ZaloApiError) as err:
            await bot.get_me()
        assert "wrong-secret-value" not in repr(bot)
    assert err.value.error_code == 401
    assert wrong not in str(err.value)
    assert "wrong-secret-value" not in str(err.value)
    assert zl.calls["getMe"] == 0


async def test_token_in_server_description_is_redacted(
    client: ZaloBotClient, zl: FakeZaloServer
) -> None:
    zl.fail_next("getMe", error_code=400, description=f"bad request for /bot{TOKEN}/getMe")
    with pytest.raises(ZaloApiError) as err:
        await client.get_me()
    assert TOKEN not in str(err.value)
    assert "zalo-secret" not in str(err.value)
    assert "<token>" in err.value.description


async def test_unknown_method_is_404(client: ZaloBotClient) -> None:
    with pytest.raises(ZaloApiError) as err:
        await client._call("sendTelepathy", {})
    assert err.value.error_code == 404


async def test_network_error_is_code_0_without_token() -> None:
    async with FakeZaloServer(token=TOKEN) as stopped:
        base_url = stopped.base_url
    async with ZaloBotClient(TOKEN, base_url=base_url) as bot:
        with pytest.raises(ZaloApiError) as err:
            await bot.get_me()
    assert err.value.error_code == 0
    assert err.value.description.startswith("network: ")
    assert "zalo-secret" not in str(err.value)


async def test_close_leaves_a_borrowed_session_open(zl: FakeZaloServer) -> None:
    async with aiohttp.ClientSession() as session:
        bot = ZaloBotClient(zl.token, base_url=zl.base_url, session=session)
        await bot.get_me()
        await bot.close()
        assert not session.closed
        await bot.get_me()


async def test_webhook_lifecycle(client: ZaloBotClient, zl: FakeZaloServer) -> None:
    with pytest.raises(ZaloApiError) as insecure:
        await client.set_webhook("http://example.org/zalo", "secret-12345")
    assert insecure.value.error_code == 400
    with pytest.raises(ZaloApiError) as short_secret:
        await client.set_webhook("https://example.org/zalo", "short")
    assert short_secret.value.error_code == 400
    assert zl.webhook is None

    result = await client.set_webhook("https://example.org/zalo", "secret-12345")
    assert result["url"] == "https://example.org/zalo"
    assert zl.webhook is not None and zl.webhook["secret_token"] == "secret-12345"
    assert (await client.get_webhook_info())["url"] == "https://example.org/zalo"

    zl.inject_text("user-1", "Xin chào")
    with pytest.raises(ZaloApiError) as conflict:
        await client.get_updates(timeout=0)
    assert conflict.value.error_code == 409
    assert zl.pending_updates == 1

    assert (await client.delete_webhook())["url"] == ""
    assert zl.webhook is None
    assert (await client.get_webhook_info())["url"] == ""
    update = await client.get_updates(timeout=0)
    assert update is not None and update["message"]["text"] == "Xin chào"


async def test_setting_a_webhook_ends_a_pending_long_poll(
    client: ZaloBotClient, zl: FakeZaloServer
) -> None:
    poll = asyncio.create_task(client.get_updates(timeout=30))
    await zl.wait_for_calls("getUpdates", 1)
    other = ZaloBotClient(zl.token, base_url=zl.base_url)
    try:
        await other.set_webhook("https://example.org/zalo", "secret-12345")
    finally:
        await other.close()
    with pytest.raises(ZaloApiError) as err:
        await asyncio.wait_for(poll, timeout=5)
    assert err.value.error_code == 409


async def test_stopping_the_server_ends_a_pending_long_poll() -> None:
    async with FakeZaloServer(token=TOKEN) as server:
        bot = ZaloBotClient(server.token, base_url=server.base_url)
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await server.wait_for_calls("getUpdates", 1)
    try:
        assert await asyncio.wait_for(poll, timeout=5) is None
    finally:
        await bot.close()


async def test_cancelled_long_poll_does_not_swallow_an_update(
    client: ZaloBotClient, zl: FakeZaloServer
) -> None:
    poll = asyncio.create_task(client.get_updates(timeout=30))
    await zl.wait_for_calls("getUpdates", 1)
    await zl.wait_for_active_polls(1)
    poll.cancel()
    with pytest.raises(asyncio.CancelledError):
        await poll
    # The server notices the dropped connection and abandons that long poll, so the update
    # injected next goes to the bot's next poll instead of into a closed connection.
    await zl.wait_for_active_polls(0)
    message_id = zl.inject_text("user-1", "Sau khi khởi động lại")
    update = await client.get_updates(timeout=5)
    assert update is not None and update["message"]["message_id"] == message_id


async def test_wait_for_times_out_with_a_readable_dump(zl: FakeZaloServer) -> None:
    zl.inject_text("user-1", "Xin chào")
    with pytest.raises(AssertionError) as err:
        await zl.wait_for(1, chat_id="user-1", timeout=0)
    assert "user-1" in str(err.value)
    assert "pending updates: 1" in str(err.value)
    with pytest.raises(AssertionError):
        await zl.wait_for(lambda sent: any("Cảm ơn" in m.text for m in sent), timeout=0)


async def test_wait_for_predicate(client: ZaloBotClient, zl: FakeZaloServer) -> None:
    waiter = asyncio.create_task(
        zl.wait_for(lambda sent: any("Cảm ơn" in m.text for m in sent), chat_id="user-1")
    )
    await client.send_message("user-1", "Bắt đầu")
    await client.send_message("user-1", "Cảm ơn đồng chí")
    sent = await asyncio.wait_for(waiter, timeout=5)
    assert [m.text for m in sent] == ["Bắt đầu", "Cảm ơn đồng chí"]


# -- parse_update ------------------------------------------------------------------------------


def test_parse_text_update() -> None:
    update = build_update(
        "message.text.received",
        "user-1",
        text="Xin chào",
        display_name="Nguyễn Văn A",
        message_id="16f6ab",
        date_ms=1766619597466,
    )
    assert parse_update(update) == ZaloIncoming(
        message_id="16f6ab",
        chat_id="user-1",
        user_id="user-1",
        display_name="Nguyễn Văn A",
        text="Xin chào",
        event_name="message.text.received",
        date_ms=1766619597466,
    )
    # Some webhook deliveries wrap the update like a getUpdates answer.
    assert parse_update({"ok": True, "result": update}) == parse_update(update)


@pytest.mark.parametrize("event", ["image", "sticker", "voice", "unsupported"])
def test_parse_non_text_update(event: str) -> None:
    incoming = parse_update(build_update(event, "user-2", message_id="m1"))
    assert incoming is not None
    assert incoming.text is None
    assert incoming.event_name == f"message.{event}.received"
    assert (incoming.user_id, incoming.chat_id, incoming.message_id) == ("user-2", "user-2", "m1")


def test_parse_text_field_on_non_text_event_is_ignored() -> None:
    update = build_update("image", "user-2", text="caption-like text")
    incoming = parse_update(update)
    assert incoming is not None and incoming.text is None


@pytest.mark.parametrize(
    "junk",
    [
        None,
        [],
        "message.text.received",
        42,
        {},
        {"ok": True, "result": None},
        {"event_name": "message.text.received"},
        {"event_name": "message.text.received", "message": "hi"},
        {"event_name": 7, "message": {}},
        {"event_name": "message.text.received", "message": {"message_id": "1", "chat": {}}},
        {
            "event_name": "message.text.received",
            "message": {"message_id": "1", "chat": {"id": ""}, "from": {"id": "u"}},
        },
        {
            "event_name": "message.text.received",
            "message": {"message_id": True, "chat": {"id": "c"}, "from": {"id": "u"}},
        },
    ],
)
def test_parse_junk_returns_none(junk: object) -> None:
    assert parse_update(junk) is None  # type: ignore[arg-type]


def test_parse_tolerates_odd_optional_fields() -> None:
    update = {
        "event_name": "message.text.received",
        "message": {
            "message_id": 99,
            "date": "not a date",
            "chat": {"id": "c"},
            "from": {"id": "u", "name": "Trần Thị B"},
            "text": ["not", "text"],
        },
    }
    incoming = parse_update(update)
    assert incoming is not None
    assert incoming.message_id == "99"
    assert incoming.display_name == "Trần Thị B"
    assert incoming.date_ms == 0
    assert incoming.text is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
field_values = st.one_of(
    json_values, st.sampled_from(["message.text.received", "message.image.received", "u1", ""])
)
nearly_valid_updates = st.fixed_dictionaries(
    {},
    optional={
        "event_name": field_values,
        "message": st.fixed_dictionaries(
            {},
            optional={
                "message_id": field_values,
                "date": field_values,
                "text": field_values,
                "chat": st.fixed_dictionaries({}, optional={"id": field_values}) | field_values,
                "from": st.fixed_dictionaries(
                    {}, optional={"id": field_values, "display_name": field_values}
                )
                | field_values,
            },
        )
        | field_values,
        "result": json_values,
    },
)


@given(st.one_of(json_values, nearly_valid_updates))
def test_parse_update_never_raises(payload: object) -> None:
    incoming = parse_update(payload)  # type: ignore[arg-type]
    if incoming is not None:
        assert isinstance(incoming, ZaloIncoming)
        assert incoming.message_id and incoming.chat_id and incoming.user_id
        assert isinstance(incoming.date_ms, int)
        assert incoming.text is None or incoming.event_name == "message.text.received"


@given(st.text())
def test_parse_update_never_raises_on_json_text(raw: str) -> None:
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = raw
    parse_update(payload)


# -- split_text --------------------------------------------------------------------------------


def _matches(text: str, parts: list[str], *, inner_breaks_required: bool) -> bool:
    """True if ``text`` == b0 + parts[0] + b1 + ... + parts[-1] + bn with each b a run of line
    breaks (inner runs non-empty when ``inner_breaks_required``)."""
    positions = {0}
    for index, part in enumerate(parts):
        reachable = set()
        for start in positions:
            skip = 0
            while True:
                needs_break = inner_breaks_required and index > 0
                if (skip > 0 or not needs_break) and text.startswith(part, start + skip):
                    reachable.add(start + skip + len(part))
                if start + skip < len(text) and text[start + skip] == "\n":
                    skip += 1
                else:
                    break
        positions = reachable
    return any(set(text[p:]) <= {"\n"} for p in positions)


texts = st.text(
    alphabet=st.sampled_from(list("ab ề\n\u0301")) | st.characters(codec="utf-8"), max_size=300
)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(texts, st.integers(min_value=1, max_value=40))
def test_split_text_properties(text: str, limit: int) -> None:
    parts = split_text(text, limit)
    assert all(0 < len(part) <= limit for part in parts)
    if len(text) <= limit:
        assert parts == ([text] if text else [])
    assert _matches(text, parts, inner_breaks_required=False)
    if all(len(line) <= limit for line in text.split("\n")):
        # Every line fits: split only at line boundaries, never inside a line.
        assert _matches(text, parts, inner_breaks_required=True)


@given(st.lists(st.text(alphabet="abc xyz", min_size=1, max_size=30), min_size=1, max_size=30))
def test_split_text_packs_whole_lines(lines: list[str]) -> None:
    text = "\n".join(lines)
    parts = split_text(text, 40)
    assert "\n".join(parts) == text
    # Greedy: the next line would not have fitted into the previous part.
    for previous, following in zip(parts, parts[1:], strict=False):
        first_line = following.split("\n", 1)[0]
        assert len(previous) + 1 + len(first_line) > 40


def test_split_text_examples() -> None:
    assert split_text("") == []
    assert split_text("Xin chào") == ["Xin chào"]
    assert split_text("một\nhai\nba", limit=7) == ["một\nhai", "ba"]
    assert split_text("một\n\n\nhai", limit=5) == ["một", "hai"]
    assert split_text("aaa bbb ccc", limit=8) == ["aaa bbb ", "ccc"]
    assert split_text("abcdefghij", limit=4) == ["abcd", "efgh", "ij"]
    # A combining acute accent is not separated from its letter by a hard cut.
    assert split_text("abe\u0301cd", limit=3) == ["ab", "e\u0301c", "d"]
    long = "Số liệu " * 600
    assert all(len(part) <= TEXT_LIMIT for part in split_text(long))
    assert "".join(split_text(long)) == long
    with pytest.raises(ValueError):
        split_text("abc", limit=0)
