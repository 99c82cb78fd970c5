"""Where a report stands and who a contact is, as enums (their values are what the tables hold),
and the one definition of a "done" report."""

from __future__ import annotations

from enum import StrEnum


class SubmissionStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    RETURNED = "returned"  # sent back by the secretariat: editable again
    APPROVED = "approved"  # accepted by the secretariat: locked


DONE = frozenset({SubmissionStatus.SUBMITTED, SubmissionStatus.APPROVED})
# Which statuses may be edited, and every other move, is `conversations.lifecycle`'s table.


class CampaignState(StrEnum):
    """A campaign's life: written and previewed (draft), answered and reminded (open), kept for
    export only (closed), put away (archived)."""

    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    ARCHIVED = "archived"


class ContactRole(StrEnum):
    OFFICER = "officer"
    SECRETARIAT = "secretariat"
