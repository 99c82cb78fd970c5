"""The report's life cycle, as one table: status × event → the new status, or a named refusal.

Every surface (the officer's chat through the engine and the service, the secretariat's chat
commands, the command line and the web page) asks this table; storage applies its answer as one
conditional write (`storage.transitions`), so that two people acting at once cannot both win.

Events:
- ANSWER: an answer is saved. The first one starts the report (not_started → in_progress); on a
  returned report it is the edit after the return and the report stays «returned» (reminders and
  the staff page keep saying «bị trả lại» until it is submitted again). Refused once submitted or
  approved: the report is locked.
- SUBMIT: the officer confirms. Allowed from any editable status (the form decides whether an
  incomplete report may go).
- RETURN: staff send a submitted or approved report back for correction.
- APPROVE: staff accept a submitted report; it is locked for good (only a return opens it again).
- EXTEND: staff give the unit its own later deadline. The status does not change. Refused on an
  approved report: the plan's deadline is for sending the report, and an approved report has
  nothing more to send; return it first if the unit must correct it, then extend.

Pure: no I/O.
"""

from __future__ import annotations

from enum import StrEnum

from conversations.errors import NotAllowedNow
from conversations.statuses import SubmissionStatus as S


class Event(StrEnum):
    ANSWER = "answer"
    SUBMIT = "submit"
    RETURN = "return"
    APPROVE = "approve"
    EXTEND = "extend"


class Refusal(StrEnum):
    """Why an event is refused in a status; the value is the Vietnamese reason."""

    LOCKED = "báo cáo đã nộp nên không sửa được nữa"
    ALREADY_SUBMITTED = "báo cáo đã nộp rồi"
    NOT_SUBMITTED_FOR_RETURN = "báo cáo chưa nộp nên không cần trả lại"
    NOT_SUBMITTED_FOR_APPROVAL = "báo cáo chưa nộp nên chưa duyệt được"
    ALREADY_APPROVED = "báo cáo này đã được duyệt rồi"
    APPROVED_NOT_EXTENDED = (
        "báo cáo đã được duyệt nên không cần gia hạn; trả lại báo cáo trước nếu đơn vị cần sửa"
    )


E = Event
R = Refusal

TABLE: dict[tuple[S, Event], S | Refusal] = {
    (S.NOT_STARTED, E.ANSWER): S.IN_PROGRESS,
    (S.NOT_STARTED, E.SUBMIT): S.SUBMITTED,
    (S.NOT_STARTED, E.RETURN): R.NOT_SUBMITTED_FOR_RETURN,
    (S.NOT_STARTED, E.APPROVE): R.NOT_SUBMITTED_FOR_APPROVAL,
    (S.NOT_STARTED, E.EXTEND): S.NOT_STARTED,
    (S.IN_PROGRESS, E.ANSWER): S.IN_PROGRESS,
    (S.IN_PROGRESS, E.SUBMIT): S.SUBMITTED,
    (S.IN_PROGRESS, E.RETURN): R.NOT_SUBMITTED_FOR_RETURN,
    (S.IN_PROGRESS, E.APPROVE): R.NOT_SUBMITTED_FOR_APPROVAL,
    (S.IN_PROGRESS, E.EXTEND): S.IN_PROGRESS,
    (S.SUBMITTED, E.ANSWER): R.LOCKED,
    (S.SUBMITTED, E.SUBMIT): R.ALREADY_SUBMITTED,
    (S.SUBMITTED, E.RETURN): S.RETURNED,
    (S.SUBMITTED, E.APPROVE): S.APPROVED,
    (S.SUBMITTED, E.EXTEND): S.SUBMITTED,
    (S.RETURNED, E.ANSWER): S.RETURNED,
    (S.RETURNED, E.SUBMIT): S.SUBMITTED,
    (S.RETURNED, E.RETURN): R.NOT_SUBMITTED_FOR_RETURN,
    (S.RETURNED, E.APPROVE): R.NOT_SUBMITTED_FOR_APPROVAL,
    (S.RETURNED, E.EXTEND): S.RETURNED,
    (S.APPROVED, E.ANSWER): R.LOCKED,
    (S.APPROVED, E.SUBMIT): R.ALREADY_SUBMITTED,
    (S.APPROVED, E.RETURN): S.RETURNED,
    (S.APPROVED, E.APPROVE): R.ALREADY_APPROVED,
    (S.APPROVED, E.EXTEND): R.APPROVED_NOT_EXTENDED,
}


def decide(status: str, event: Event | str) -> S | Refusal:
    """The table's answer: the new status, or the refusal."""
    return TABLE[S(status), Event(event)]


def allows(status: str, event: Event | str) -> bool:
    return isinstance(decide(status, event), S)


def after(status: str, event: Event) -> S:
    """The new status; `NotAllowedNow` (with the status found) when the table refuses."""
    outcome = decide(status, event)
    if isinstance(outcome, Refusal):
        raise NotAllowedNow(outcome.value, status=S(status))
    return outcome


EDITABLE = frozenset(status for status in S if allows(status, Event.ANSWER))
