"""The report's life-cycle table: every status × event, and that no sequence of events leaves the
table's moves."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversations import lifecycle
from conversations.errors import ErrorKind, NotAllowedNow
from conversations.lifecycle import Event, Refusal
from conversations.statuses import SubmissionStatus as S

# Written out again here, row by row, as the plan reads: the table must say exactly this.
EXPECTED = {
    S.NOT_STARTED: {
        Event.ANSWER: S.IN_PROGRESS,
        Event.SUBMIT: S.SUBMITTED,
        Event.RETURN: Refusal.NOT_SUBMITTED_FOR_RETURN,
        Event.APPROVE: Refusal.NOT_SUBMITTED_FOR_APPROVAL,
        Event.EXTEND: S.NOT_STARTED,
    },
    S.IN_PROGRESS: {
        Event.ANSWER: S.IN_PROGRESS,
        Event.SUBMIT: S.SUBMITTED,
        Event.RETURN: Refusal.NOT_SUBMITTED_FOR_RETURN,
        Event.APPROVE: Refusal.NOT_SUBMITTED_FOR_APPROVAL,
        Event.EXTEND: S.IN_PROGRESS,
    },
    S.SUBMITTED: {
        Event.ANSWER: Refusal.LOCKED,
        Event.SUBMIT: Refusal.ALREADY_SUBMITTED,
        Event.RETURN: S.RETURNED,
        Event.APPROVE: S.APPROVED,
        Event.EXTEND: S.SUBMITTED,
    },
    S.RETURNED: {
        Event.ANSWER: S.RETURNED,  # the edit after a return keeps «bị trả lại» until resubmitted
        Event.SUBMIT: S.SUBMITTED,
        Event.RETURN: Refusal.NOT_SUBMITTED_FOR_RETURN,
        Event.APPROVE: Refusal.NOT_SUBMITTED_FOR_APPROVAL,
        Event.EXTEND: S.RETURNED,
    },
    S.APPROVED: {
        Event.ANSWER: Refusal.LOCKED,
        Event.SUBMIT: Refusal.ALREADY_SUBMITTED,
        Event.RETURN: S.RETURNED,  # a return opens an approved report again
        Event.APPROVE: Refusal.ALREADY_APPROVED,
        Event.EXTEND: Refusal.APPROVED_NOT_EXTENDED,
    },
}
CELLS = [(status, event) for status in S for event in Event]


def test_the_table_has_every_status_and_event_once():
    assert set(lifecycle.TABLE) == set(CELLS)
    assert len(lifecycle.TABLE) == len(S) * len(Event)


@pytest.mark.parametrize(("status", "event"), CELLS)
def test_each_cell(status, event):
    expected = EXPECTED[status][event]
    assert lifecycle.decide(status, event) == expected
    assert lifecycle.decide(str(status), event) == expected  # as the tables store it
    assert lifecycle.allows(status, event) is isinstance(expected, S)
    if isinstance(expected, S):
        assert lifecycle.after(status, event) is expected
    else:
        with pytest.raises(NotAllowedNow) as refused:
            lifecycle.after(status, event)
        assert str(refused.value) == expected.value
        assert refused.value.kind is ErrorKind.STATE
        assert refused.value.status == status


def test_editable_statuses_are_the_ones_an_answer_may_change():
    assert {S.NOT_STARTED, S.IN_PROGRESS, S.RETURNED} == lifecycle.EDITABLE


def test_refusals_are_vietnamese_with_diacritics():
    for refusal in Refusal:
        assert refusal.value.startswith("báo cáo")
        assert any(ch in refusal.value for ch in "ăâđêôơưáàảãạ")


def test_an_unknown_status_is_not_quietly_accepted():
    with pytest.raises(ValueError):
        lifecycle.decide("archived", Event.APPROVE)


# Which moves the plan allows at all (from, to), whatever the event.
MOVES = {
    (S.NOT_STARTED, S.IN_PROGRESS),
    (S.NOT_STARTED, S.SUBMITTED),
    (S.IN_PROGRESS, S.SUBMITTED),
    (S.RETURNED, S.SUBMITTED),
    (S.SUBMITTED, S.RETURNED),
    (S.SUBMITTED, S.APPROVED),
    (S.APPROVED, S.RETURNED),
}


@settings(derandomize=True, deadline=None, max_examples=300)
@given(st.lists(st.sampled_from(list(Event)), max_size=40))
def test_no_sequence_of_events_leaves_the_plan(events):
    status = S.NOT_STARTED
    submitted_once = False
    for event in events:
        before = status
        try:
            status = lifecycle.after(status, event)
        except NotAllowedNow as refused:
            assert refused.status == before  # a refusal changes nothing
            continue
        assert status == before or (before, status) in MOVES
        if event is Event.EXTEND:
            assert status == before  # an extension never changes the status
        submitted_once |= status == S.SUBMITTED
        if status in (S.APPROVED, S.RETURNED):
            assert submitted_once  # staff act only on a report that was sent
        if status == S.APPROVED:
            assert before == S.SUBMITTED
