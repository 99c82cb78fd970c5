"""`baocao members list [--json]` and `baocao members remove ID`: who is linked to the bot, and
removing one of them (which ends their web sessions and links at once; `bot.members`).

The operator at the terminal acts for the province; removing asks nothing and prints what it
did, an unknown id is one Vietnamese line and exit code 1.
"""

from __future__ import annotations

import argparse
import json
import re

from bot import members
from bot.app import App
from bot.use_cases import OPERATOR
from conversations.messages import format_moment
from storage.members import Member


def add_parser(commands: argparse._SubParsersAction) -> None:
    group = commands.add_parser("members", help="cán bộ đã liên kết: xem danh sách, gỡ")
    actions = group.add_actions()
    listing = actions.add_parser("list", help="liệt kê cán bộ tổng hợp và cán bộ đầu mối")
    listing.add_argument("--json", action="store_true", help="in JSON")
    remove = actions.add_parser(
        "remove", help="gỡ một cán bộ: phiên web và mọi liên kết của họ hết hiệu lực ngay"
    )
    remove.add_argument(
        "id", type=_member_id, metavar="SỐ", help="mã số cán bộ (xem: baocao members list)"
    )


def _member_id(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,12}", text) or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f"cần mã số cán bộ (một số nguyên dương), không phải {text!r}"
        )
    return int(text)


def cmd_members(app: App, args: argparse.Namespace) -> int:
    if args.action == "list":
        return _list(app, as_json=args.json)
    return _remove(app, args.id)


def _list(app: App, *, as_json: bool) -> int:
    with app.database.transaction() as session:
        found = members.members(session, OPERATOR)
    if as_json:
        print(json.dumps([record(m) for m in found], ensure_ascii=False, indent=2))
        return 0
    if not found:
        print("Chưa có cán bộ nào liên kết. Tạo mã mời: baocao invite MÃ_ĐƠN_VỊ")
        return 0
    for member in found:
        print(line(member))
    print(f"Tổng cộng {len(found)} người. Gỡ một người: baocao members remove SỐ.")
    return 0


def _remove(app: App, contact_id: int) -> int:
    with app.database.write_transaction() as session:
        removal = members.remove(session, app.clock(), OPERATOR, contact_id)
    print(
        f"Đã gỡ {members.describe(removal.member)}: kết thúc {removal.sessions} phiên web, "
        f"hủy {removal.sign_in_links} liên kết đăng nhập và {removal.download_links} liên kết "
        "tải về/tải lên. Người này cần mã mời mới để liên kết lại."
    )
    return 0


def record(member: Member) -> dict:
    secretariat = member.role == "secretariat"
    return {
        "id": member.id,
        "name": member.name,
        "role": member.role,
        "scope": (member.unit_code or "province") if secretariat else None,
        "unit": None if secretariat else member.unit_code,
        "channel": member.channel,
        "last_seen_at": member.last_seen_at.isoformat() if member.last_seen_at else None,
        "active": member.active,
        "removed_at": member.removed_at.isoformat() if member.removed_at else None,
    }


def line(member: Member) -> str:
    if member.role == "secretariat":
        where = f"phạm vi {member.unit_code}" if member.unit_code else "cấp tỉnh"
    else:
        where = f"đơn vị {member.unit_code}" if member.unit_code else "chưa có đơn vị"
    seen = format_moment(member.last_seen_at) if member.last_seen_at else "chưa"
    state = members.state(member)
    return f"{member.id:>4}  {members.describe(member)}, {where}; lần cuối: {seen}; {state}"
