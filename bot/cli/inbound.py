"""`baocao inbound list|retry ID|drop ID`: the inbound updates the bot set aside.

An update the service kept failing on is kept with its platform JSON and error
(`storage.inbound_faults`); here the operator sees them, replays one once its cause is removed
(through the same service path as a live update; its replies go out through the running bot's
outbox) or drops it.
"""

from __future__ import annotations

import argparse
import json
import sys

from bot.app import App
from bot.service import NotSetAside
from conversations.messages import format_moment
from storage.inbound_faults import describe, find_set_aside, list_set_aside, remove_set_aside
from storage.models import SetAsideInbound

PREVIEW = 60


def add_parser(commands: argparse._SubParsersAction) -> None:
    inbound = commands.add_parser("inbound", help="tin nhắn đến chưa xử lý được, đã để riêng")
    actions = inbound.add_actions()
    listing = actions.add_parser("list", help="liệt kê các tin đã để riêng")
    listing.add_argument("--json", action="store_true", help="in JSON")
    retry = actions.add_parser("retry", help="xử lý lại một tin (khi đã khắc phục nguyên nhân)")
    retry.add_argument(
        "id", type=_row_id, metavar="SỐ", help="số của tin (xem: baocao inbound list)"
    )
    drop = actions.add_parser("drop", help="bỏ hẳn một tin")
    drop.add_argument(
        "id", type=_row_id, metavar="SỐ", help="số của tin (xem: baocao inbound list)"
    )


def _row_id(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f"cần số của tin (một số nguyên dương), không phải {text!r}"
        )
    return int(text)


def cmd_inbound(app: App, args: argparse.Namespace) -> int:
    if args.action == "list":
        return _list(app, as_json=args.json)
    if args.action == "retry":
        return _retry(app, args.id)
    return _drop(app, args.id)


def _list(app: App, *, as_json: bool) -> int:
    with app.database.transaction() as session:
        rows = list_set_aside(session)
        records = [_record(row) for row in rows]
    if as_json:
        print(json.dumps(records, ensure_ascii=False, indent=2))
        return 0
    if not records:
        print("Không có tin nhắn nào bị để riêng.")
        return 0
    for row, record in zip(rows, records, strict=True):
        text = record["text"] or "(không có chữ)"
        if len(text) > PREVIEW:
            text = text[: PREVIEW - 1] + "…"
        print(
            f"{record['id']:>4}  {format_moment(row.set_aside_at)}  {record['channel']} "
            f"chat {record['chat_id']} ({record['sender']}), {record['attempts']} lần lỗi: "
            f"{record['error_type']}: {record['error']}\n      «{text}»"
        )
    print(
        f"Tổng cộng {len(records)} tin. Xử lý lại: baocao inbound retry SỐ; "
        "bỏ hẳn: baocao inbound drop SỐ."
    )
    return 0


def _record(row: SetAsideInbound) -> dict:
    inbound = row.inbound or {}
    return {
        "id": row.id,
        "channel": row.channel,
        "inbound_id": row.inbound_id,
        "chat_id": row.chat_id,
        "sender": inbound.get("display_name") or inbound.get("user_id", ""),
        "text": inbound.get("text") or inbound.get("choice") or "",
        "attempts": row.attempts,
        "error_type": row.error_type,
        "error": row.error,
        "set_aside_at": row.set_aside_at.isoformat(),
        "last_failed_at": row.last_failed_at.isoformat(),
        "payload": row.payload,
    }


def _retry(app: App, row_id: int) -> int:
    try:
        queued = app.service.replay(row_id)
    except NotSetAside:
        return _unknown(row_id)
    except Exception as error:
        kind, message = describe(error)
        print(
            f"baocao: tin số {row_id} vẫn chưa xử lý được ({kind}: {message}); vẫn để riêng.",
            file=sys.stderr,
        )
        return 1
    print(
        f"Đã xử lý lại tin số {row_id} ({len(queued)} tin trả lời; tiến trình `baocao run` "
        "sẽ gửi đi)."
    )
    return 0


def _drop(app: App, row_id: int) -> int:
    with app.database.transaction() as session:
        if find_set_aside(session, row_id) is None:
            return _unknown(row_id)
        remove_set_aside(session, row_id)
    print(f"Đã bỏ tin số {row_id}.")
    return 0


def _unknown(row_id: int) -> int:
    print(
        f"baocao: không có tin nào để riêng mang số {row_id} (xem: baocao inbound list)",
        file=sys.stderr,
    )
    return 1
