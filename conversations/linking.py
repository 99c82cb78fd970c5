"""The invite-linking dialogue: a stranger brings an invite code, is asked to confirm who they
are, and is linked (or not). Pure: the service looks the invite up and stores the outcome.
"""

from __future__ import annotations

import re
from enum import Enum

from conversations.choices import Choice
from conversations.commands import reads_as_no, reads_as_yes

LINK_CONTEXT = "link"
LINK_YES = Choice("link_yes", "Xác nhận", "có")
LINK_NO = Choice("link_no", "Không phải tôi", "không")
LINK_CHOICE_IDS = frozenset({LINK_YES.id, LINK_NO.id})
_BARE_CODE = re.compile(r"^(?:[A-Za-z0-9]{6,12}|[A-Za-z0-9]{4}[-\s][A-Za-z0-9]{4})$")

STRANGER_TEXT = (
    "Xin chào! Đây là trợ lý thu thập số liệu báo cáo của Ban Dân vận Tỉnh ủy.\n"
    "Để sử dụng, đồng chí cần mã mời do Ban Dân vận cấp: mở đường liên kết mời, "
    "hoặc gửi mã mời (8 ký tự) vào đây."
)
BAD_CODE_TEXT = (
    "Mã mời không đúng, đã được dùng hoặc đã hết hạn. "
    "Đề nghị liên hệ Ban Dân vận Tỉnh ủy để được cấp mã mới."
)
CANCELLED_TEXT = "Đã hủy. Mã mời chưa được dùng."


class Confirmation(Enum):
    YES = "yes"
    NO = "no"
    OTHER = "other"  # not an answer to the question: let the input through


def looks_like_code(text: str) -> bool:
    """A bare invite code typed on its own (Zalo has no deep links)."""
    return _BARE_CODE.match(text) is not None


def read_confirmation(choice: str | None, text: str) -> Confirmation:
    if choice == LINK_YES.id or (choice is None and reads_as_yes(text)):
        return Confirmation.YES
    if choice == LINK_NO.id or (choice is None and reads_as_no(text)):
        return Confirmation.NO
    return Confirmation.OTHER


def offer_text(role: str, unit_name: str | None) -> str:
    """The question asked before linking: whose invite this is."""
    if role == "secretariat" and unit_name:
        target = f"cán bộ tổng hợp phụ trách {unit_name} và các đơn vị cấp dưới"
    elif role == "secretariat":
        target = "cán bộ tổng hợp của Ban Dân vận Tỉnh ủy"
    else:
        target = f"cán bộ đầu mối của {unit_name}"
    question = "Đồng chí xác nhận đúng là mình để liên kết tài khoản này?"
    return f"Mã mời này dành cho {target}.\n{question}"


def linked_text(unit_name: str) -> str:
    return f"Đã liên kết với {unit_name}."
