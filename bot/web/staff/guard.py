"""Who is asking, and the headers every answer carries.

A session is a random token in an HttpOnly, SameSite=Strict cookie (Secure when the public URL
is https); the server keeps its hash and expiry (`storage.staff_store`), so signing out or
removing a secretariat member ends the session at once. The CSRF token of a form is an HMAC of
the session token: it needs no storage, differs per session and is compared in constant time.
Strangers get 403 and a unit outside the viewer's scope 404, worded to reveal nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from aiohttp import web
from sqlmodel import Session

from bot.use_cases import Actor, contact_actor
from storage.staff_store import session_contact

COOKIE = "baocao_phien"
CSRF_FIELD = "csrf"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class Viewer:
    """A signed-in secretariat member, as the pages need them."""

    actor: Actor
    csrf: str
    scope_name: str | None


def csrf_for(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"baocao-csrf", hashlib.sha256).hexdigest()


def csrf_matches(session_token: str, sent: str) -> bool:
    return hmac.compare_digest(csrf_for(session_token).encode(), (sent or "").encode())


def viewer_for(session: Session, token: str | None, now) -> Viewer | None:
    contact = session_contact(session, token or "", now)
    if contact is None:
        return None
    return Viewer(contact_actor(contact, "web"), csrf_for(token), contact.unit_name)


def set_session_cookie(response: web.StreamResponse, token: str, *, max_age: int, secure: bool):
    response.set_cookie(
        COOKIE,
        token,
        max_age=max_age,
        path="/web",
        httponly=True,
        secure=secure,
        samesite="Strict",
    )


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/web")


@web.middleware
async def security_headers(request: web.Request, handler):
    try:
        response = await handler(request)
    except web.HTTPException as error:
        response = error
        _add_headers(response)
        raise
    _add_headers(response)
    return response


def _add_headers(response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", "no-store")
