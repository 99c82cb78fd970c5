"""Error pages in Vietnamese, never a traceback or aiohttp's English text: two middlewares and
one page.

`error_pages`, the outermost: a request whose path parts or query carry what no page can use (a
NUL) is refused before its handler runs; `BadInput` from a handler (`bot.web.inputs`) is a 400
with its reason; any other exception is logged with its traceback and answered with a plain 500
page (no detail of what failed). The tests expect no 500 at all: this page is the last net, not a
way of handling input. `vietnamese_errors`, the innermost (so the pages' security headers apply
to what it returns): aiohttp's own 404/405 become the same page; a handler's own answer (a
download's plain «Không tìm thấy.») is kept.
"""

from __future__ import annotations

import html
import logging

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from bot.web.inputs import BadInput, check_all

log = logging.getLogger(__name__)

SERVER_ERROR_TEXT = (
    "Hệ thống gặp lỗi khi xử lý yêu cầu này. Đồng chí thử lại sau ít phút; nếu vẫn lỗi, "
    "đề nghị báo cho cán bộ kỹ thuật của Ban Dân vận."
)


@web.middleware
async def error_pages(request: web.Request, handler):
    try:
        check_all(request.match_info.values(), "đường dẫn")
        check_all(request.query.keys(), "tham số")
        check_all(request.query.values(), "tham số")
        return await handler(request)
    except web.HTTPException:
        raise
    except BadInput as bad:
        return error_page("Yêu cầu không hợp lệ", bad.message, 400)
    except Exception:
        log.exception("web: lỗi khi xử lý %s %s", request.method, request.path[:200])
        return error_page("Lỗi hệ thống", SERVER_ERROR_TEXT, 500)


class QuietBadRequests(logging.Filter):
    """aiohttp logs a request it cannot even parse (a raw byte 0xFF in the request line, a NUL
    in a header) as an error with a traceback, though it answers 400 itself: that is a client's
    fault, logged here as one warning line without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError) and 400 <= (error.code or 0) < 500:
            record.msg = f"{record.msg}: yêu cầu HTTP không hợp lệ ({error.code})"
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_bad_requests() -> None:
    """Install `QuietBadRequests` on aiohttp's server logger (once)."""
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(known, QuietBadRequests) for known in server_log.filters):
        server_log.addFilter(QuietBadRequests())


DEFAULT_PAGES = {
    404: ("Không tìm thấy", "Không có trang này. Kiểm tra lại địa chỉ, hoặc về trang Tổng quan."),
    405: ("Không làm được", "Trang này không nhận thao tác đó. Quay lại trang trước rồi thử lại."),
}
_DEFAULT_TEXTS = {"404: Not Found", "405: Method Not Allowed", None}
PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Ban Dân vận</title><link rel="stylesheet" href="/web/tinh/web.css"></head>
<body><a class="skip" href="#noi-dung">Bỏ qua thanh điều hướng, đến nội dung chính</a>
<header class="top"><div class="brand">Ban Dân vận · Theo dõi báo cáo</div></header>
<main id="noi-dung" tabindex="-1"><h1>{title}</h1><p class="message">{text}</p>
<p><a href="/web/">Về trang Tổng quan</a></p></main></body></html>"""


@web.middleware
async def vietnamese_errors(request: web.Request, handler):
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status not in DEFAULT_PAGES or error.text not in _DEFAULT_TEXTS:
            raise
        return error_page(*DEFAULT_PAGES[error.status], error.status)


def error_page(title: str, text: str, status: int) -> web.Response:
    body = PAGE.format(title=html.escape(title), text=html.escape(text))
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )
