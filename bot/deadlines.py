"""The one reader of a unit's deadline: the campaign's, or the unit's own after Gia hạn.

Reminders, `/status`, the command line, the web page and the documents all ask
`campaign_deadlines`, and judge lateness with `Deadlines.of(code)` (`exports.consolidation`), so
an extension moves every one of them at once.
"""

from __future__ import annotations

from sqlmodel import Session

from exports.consolidation import Deadlines
from storage.models import Campaign
from storage.staff_store import unit_deadlines_by_code


def campaign_deadlines(session: Session, campaign: Campaign) -> Deadlines:
    """The campaign's deadline and every unit's own, by unit code."""
    return Deadlines(campaign.deadline, unit_deadlines_by_code(session, campaign.id))
