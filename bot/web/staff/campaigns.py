"""Which campaign the staff web page shows (issue #22): named by `?dot=CODE` in the URL, then
remembered in a cookie for the next pages; without a choice, the only open campaign, or the
latest-deadline open one when several are open. The header's switcher lists the campaigns.
"""

from __future__ import annotations

import re

from aiohttp import web
from sqlmodel import Session

from conversations.campaign_menu import short_title
from conversations.statuses import CampaignState
from storage.campaign_life import STATE_NAMES
from storage.models import Campaign
from storage.repository import (
    SeveralOpen,
    StorageError,
    campaign_by_code,
    current_campaign,
    known_campaigns,
    open_campaigns,
)

PARAMETER = COOKIE = "dot"
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


def requested_code(request: web.Request) -> str | None:
    """The campaign code the URL names, else the one remembered; None when neither is valid."""
    for code in (request.query.get(PARAMETER, ""), request.cookies.get(COOKIE, "")):
        if _CODE.fullmatch(code):
            return code
    return None


def remember(request: web.Request, response: web.StreamResponse) -> None:
    """Keep a campaign named in the URL for the next pages (a cookie of the /web pages)."""
    code = request.query.get(PARAMETER, "")
    if _CODE.fullmatch(code):
        response.set_cookie(COOKIE, code, path="/web", httponly=True, samesite="Lax")


def page_campaign(session: Session, code: str | None) -> Campaign:
    """The campaign a page shows: the named one, else the only (or latest) open one."""
    if code:
        try:
            return campaign_by_code(session, code)
        except StorageError:
            pass
    try:
        return current_campaign(session)
    except SeveralOpen:
        return open_campaigns(session)[0]


def switcher(session: Session, code: str | None, path: str) -> dict | None:
    """The header's campaign select: every campaign but archived ones; None if only one."""
    shown = page_campaign(session, code)
    campaigns = [c for c in known_campaigns(session) if c.state != CampaignState.ARCHIVED]
    if len(campaigns) < 2:
        return None
    return {
        "path": path,
        "options": [
            {
                "code": c.code,
                "label": f"{short_title(c.title)} ({STATE_NAMES[CampaignState(c.state)]})",
                "selected": c.code == shown.code,
            }
            for c in campaigns
        ],
    }
