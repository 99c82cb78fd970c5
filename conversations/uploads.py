"""What a signed report sent back may be: its types, its size cap, and the officer's texts.

One place for the rule, read by the Telegram channel (so it does not download what will be
refused), by the service (which decides) and by the upload page (Zalo). A file is judged by its
extension and declared type together: a PDF named ".pdf" with an image type is refused, so a
mislabelled file never reaches the Ban Dân vận as something else.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from conversations.formatting import format_number

TELEGRAM_DOWNLOAD_CAP = 20 * 1024 * 1024  # a Telegram bot downloads files up to 20 MB
# extension -> the content types it may come with (browsers and phones differ a little)
KNOWN_TYPES: dict[str, tuple[str, ...]] = {
    "pdf": ("application/pdf",),
    "doc": ("application/msword",),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",),
    "jpg": ("image/jpeg",),
    "jpeg": ("image/jpeg",),
    "png": ("image/png",),
}
GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream"}
DEFAULT_EXTENSIONS = ("pdf", "doc", "docx", "jpg", "jpeg", "png")
# The first bytes of each kind, so a renamed file is caught whatever its label says.
_SIGNATURES = {
    "pdf": (b"%PDF-",),
    "doc": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    "docx": (b"PK\x03\x04",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG\r\n\x1a\n",),
}


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = TELEGRAM_DOWNLOAD_CAP
    extensions: tuple[str, ...] = DEFAULT_EXTENSIONS

    def describe(self) -> str:
        kinds = ", ".join(ext.upper() for ext in self.extensions)
        return f"{kinds}; tối đa {format_size(self.max_bytes)}"


def format_size(size: int) -> str:
    """1234567 -> "1,2 MB", 2048 -> "2 KB", 512 -> "512 byte"."""
    if size >= 1024 * 1024:
        return f"{format_number(round(size / 1024 / 1024, 1))} MB"
    if size >= 1024:
        return f"{format_number(round(size / 1024))} KB"
    return f"{size} byte"


def extension_of(name: str) -> str:
    return name.rsplit(".", 1)[1].lower() if "." in name else ""


def refusal(
    name: str, content_type: str | None, size: int | None, limits: UploadLimits
) -> str | None:
    """Why the file cannot be taken (a Vietnamese sentence), or None when it can, before its
    bytes are read: by its name, declared type and declared size."""
    extension = extension_of(name)
    content_type = (content_type or "").split(";")[0].strip().lower()
    allowed = f"Chỉ nhận tệp {limits.describe()}."
    if extension not in limits.extensions or extension not in KNOWN_TYPES:
        return f"Không nhận được tệp «{_short(name)}»: loại tệp này không được nhận. {allowed}"
    if content_type not in GENERIC_TYPES and content_type not in KNOWN_TYPES[extension]:
        return (
            f"Không nhận được tệp «{_short(name)}»: tên tệp ghi .{extension} nhưng nội dung "
            f"khai báo là {content_type}. {allowed}"
        )
    if size is not None and size > limits.max_bytes:
        return (
            f"Không nhận được tệp «{_short(name)}»: tệp nặng {format_size(size)}, quá giới hạn "
            f"{format_size(limits.max_bytes)}. Đề nghị đồng chí nén hoặc chụp lại ở độ phân giải "
            "thấp hơn rồi gửi lại."
        )
    if size == 0:
        return f"Không nhận được tệp «{_short(name)}»: tệp trống."
    return None


def content_refusal(name: str, data: bytes, limits: UploadLimits) -> str | None:
    """After reading: the real size, and whether the bytes are the kind the name says."""
    return head_refusal(name, data[:64], len(data), limits)


def head_refusal(name: str, head: bytes, size: int, limits: UploadLimits) -> str | None:
    """`content_refusal` for a file read as a stream: its first bytes and its real size."""
    problem = refusal(name, None, size, limits)
    if problem:
        return problem
    if sniffed_type(name, head) is None:
        extension = extension_of(name)
        return (
            f"Không nhận được tệp «{_short(name)}»: nội dung không phải tệp .{extension} "
            f"(tệp hỏng hoặc bị đổi tên). Chỉ nhận tệp {limits.describe()}."
        )
    return None


def sniffed_type(name: str, head: bytes) -> str | None:
    """The content type the first bytes show for this name's kind (what is stored and served,
    never the sender's label), or None when they are not that kind."""
    extension = extension_of(name)
    if extension not in _SIGNATURES or not head.startswith(_SIGNATURES[extension]):
        return None
    return KNOWN_TYPES[extension][0]


def served_type(name: str) -> str:
    """The type a stored file is served with: its kind's, never a label stored earlier (a
    sender's type with a charset or a line break once broke the download)."""
    return KNOWN_TYPES.get(extension_of(name), ("application/octet-stream",))[0]


# Characters a name must not carry: control characters (NUL included), bidi controls such as
# U+202E (which shows "gpj.exe" as "exe.jpg"), zero-width characters, line and paragraph
# separators, lone surrogates (from bad UTF-8) and the characters file systems refuse.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_UNSAFE_MARKS = frozenset('<>:"|?*')


def safe_name(name: str, fallback: str) -> str:
    """A file name fit to show and to store: no folders, no control, bidi or zero-width
    characters, not too long."""
    name = unicodedata.normalize("NFC", _visible(name or "")).replace("\\", "/")
    name = re.sub(r"\s+", " ", name.rsplit("/", 1)[-1]).strip(" .")
    if not name:
        return fallback
    if len(name) > 120:
        stem, dot, extension = name.rpartition(".")
        name = (stem[: 110 - len(extension)] + dot + extension) if dot else name[:120]
    return name


def _visible(text: str) -> str:
    return "".join(
        char
        for char in text
        if unicodedata.category(char) not in _UNSAFE_CATEGORIES and char not in _UNSAFE_MARKS
    )


def _short(name: str) -> str:
    return name if len(name) <= 60 else name[:59] + "…"


def received_text(name: str, size: int, count: int) -> str:
    more = f" Đơn vị đã gửi {count} tệp báo cáo." if count > 1 else ""
    return (
        f"Đã nhận báo cáo có chữ ký: «{name}» ({format_size(size)}).{more} "
        "Ban Dân vận Tỉnh ủy sẽ nhận cùng số liệu Phụ lục."
    )


def duplicate_text(name: str) -> str:
    return f"Tệp «{name}» đã nhận trước đó (cùng nội dung), không lưu thêm."


APPROVED_TEXT = (
    "Không nhận tệp: báo cáo của đơn vị đã được Ban Dân vận Tỉnh ủy duyệt nên không nhận thêm "
    "báo cáo có chữ ký. Nếu cần gửi lại, đề nghị đồng chí liên hệ Ban Dân vận để trả lại báo cáo."
)
BUSY_TEXT = "Hệ thống đang bận, đồng chí thử lại sau ít phút."

ASK_FOR_SIGNED_TEXT = (
    "Báo cáo có chữ ký, đóng dấu (tệp PDF, Word hoặc ảnh chụp các trang) chưa gửi. "
    "Khi có, đồng chí gửi tệp vào đây; nộp số liệu trước, gửi báo cáo sau cũng được."
)
