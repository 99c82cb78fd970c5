"""The command vocabulary: which «/…» words exist, who may use them, and how a text splits into a
command and its argument. The service routes by it, Telegram builds its menus from it and the
help text lists it, so a new command is added here once.

Also the one set of yes/no words a short confirmation is read with.
"""

from __future__ import annotations

import re

from conversations.parsing import normalize

_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@\w+)?(?:\s+(.*))?$", re.DOTALL)
_GOTO_COMMAND = re.compile(r"^(?:cau|sua|diem)\d{1,3}$")  # «/cau7» as well as «/cau 7»

YES_WORDS = frozenset({"co", "dong y", "xac nhan", "yes", "ok", "1"})
NO_WORDS = frozenset({"khong", "huy", "no", "2", "khong phai toi"})

# Every «/…» keyword the dialogue engine understands, so none is refused as unknown.
OFFICER_COMMANDS = frozenset({
    "start", "tiep", "continue", "xem", "review", "nop", "submit", "help", "huongdan", "status",
    "cau", "sua", "lai", "quaylai", "dung", "tamdung", "kad", "boqua", "xong",
    "baocao", "vietbaocao", "duthao", "phuluc", "diem", "xoa", "guibaocao", "giup",
    "dot",
})  # fmt: skip

# What a platform menu shows (command, description), in order.
OFFICER_MENU = (
    ("start", "Bắt đầu (hoặc liên kết bằng mã mời)"),
    ("tiep", "Tiếp tục điền Phụ lục"),
    ("xem", "Xem lại các câu trả lời"),
    ("nop", "Nộp báo cáo"),
    ("baocao", "Viết báo cáo theo Đề cương, tải dự thảo"),
    ("status", "Tiến độ của đơn vị"),
    ("help", "Hướng dẫn sử dụng"),
)
SECRETARIAT_MENU = (
    ("status", "Tiến độ nộp báo cáo của các đơn vị"),
    ("export", "Tải bảng tổng hợp Excel (hoặc /export MÃ_ĐƠN_VỊ)"),
    ("remind", "Nhắc ngay các đơn vị chưa nộp"),
    ("invite", "Tạo mã mời: /invite MÃ_ĐƠN_VỊ"),
    ("tralai", "Trả lại báo cáo: /tralai MÃ_ĐƠN_VỊ lý do"),
    ("duyet", "Duyệt báo cáo đã nộp: /duyet MÃ_ĐƠN_VỊ"),
    ("web", "Mở trang web của Ban Dân vận (liên kết dùng một lần)"),
    ("help", "Danh sách lệnh"),
)
SECRETARIAT_HELP = (
    "Lệnh dành cho cán bộ tổng hợp (Ban Dân vận Tỉnh ủy):\n"
    "/status — tiến độ nộp báo cáo của các đơn vị\n"
    "/export — tải bảng tổng hợp Excel; /export MÃ_ĐƠN_VỊ — Phụ lục của một đơn vị\n"
    "/remind — nhắc ngay các đơn vị chưa nộp\n"
    "/invite MÃ_ĐƠN_VỊ — tạo mã mời cho cán bộ đầu mối\n"
    "/tralai MÃ_ĐƠN_VỊ lý do — trả lại báo cáo để đơn vị sửa\n"
    "/duyet MÃ_ĐƠN_VỊ — duyệt báo cáo đã nộp (khóa lại, không sửa được nữa)\n"
    "/web — mở trang web của Ban Dân vận (liên kết dùng một lần, trong 10 phút)\n"
    "Khi đang mở nhiều đợt báo cáo: ghi mã đợt ngay sau lệnh, ví dụ /status MÃ_ĐỢT, "
    "/export MÃ_ĐỢT MÃ_ĐƠN_VỊ, /remind MÃ_ĐỢT"
)
UNKNOWN_COMMAND_TEXT = "Lệnh không rõ. Gõ /help để xem hướng dẫn."


def split_command(text: str) -> tuple[str | None, str]:
    """«/tralai HU-NP thiếu số liệu» -> ("tralai", "HU-NP thiếu số liệu"); not a command: None."""
    match = _COMMAND.match(text)
    if not match:
        return None, ""
    return match.group(1).lower(), (match.group(2) or "").strip()


def is_officer_command(command: str | None) -> bool:
    return command is not None and (
        command in OFFICER_COMMANDS or _GOTO_COMMAND.match(command) is not None
    )


def reads_as_yes(text: str) -> bool:
    return normalize(text) in YES_WORDS


def reads_as_no(text: str) -> bool:
    return normalize(text) in NO_WORDS
