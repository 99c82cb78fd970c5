"""Loading export data from storage (`exports.data.load_reports`) and the consolidation rules
(`exports.figures`) on their own.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event

from bot.documents.snapshot import load_reports
from conversations.forms import load_form
from exports.data import AnswerData, CampaignInfo
from exports.figures import (
    AVG,
    EMPTY,
    INT,
    NA,
    NO_RATE,
    NOT_ASKED,
    PCT,
    UNANSWERED,
    Totals,
    unit_figures,
)
from storage.models import Answer, Submission
from storage.repository import (
    StorageError,
    UnitRow,
    current_campaign,
    replace_units,
    unit_by_code,
)
from tests.exports.conftest import NOW

FORM = load_form("ct37_phuluc.yaml")


def _count_queries(database, action) -> int:
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    return len(statements)


def _load(database, unit_code=None):
    with database.transaction() as session:
        return load_reports(session, current_campaign(session), unit_code)


def test_load_reports_takes_the_same_few_queries_for_many_units(database, store):
    store.answer("HU-NP", "inspection_teams", {"value": 3})
    small = _count_queries(database, lambda: _load(database))
    with database.transaction() as session:
        campaign = current_campaign(session)
        replace_units(
            session,
            [
                UnitRow(code=f"XA-{n:03d}", name=f"Xã {n}", level="xa", group="tu_kiem_tra")
                for n in range(300)
            ],
        )
        for n in range(300):
            unit = unit_by_code(session, f"XA-{n:03d}")
            submission = Submission(campaign_id=campaign.id, unit_id=unit.id, status="in_progress")
            session.add(submission)
            session.flush()
            for question in FORM.questions_for("xa"):
                session.add(
                    Answer(
                        submission_id=submission.id,
                        question_key=question.key,
                        value={"value": n},
                        updated_at=NOW,
                    )
                )
    large = _count_queries(database, lambda: _load(database))
    assert large == small <= 10
    info, form, reports = _load(database)
    assert len(reports) == 313
    assert info.code == "ct37-2022" and info.timezone == "Asia/Ho_Chi_Minh"
    assert form.key == "ct37_phuluc"
    by_code = {report.code: report for report in reports}
    assert by_code["XA-007"].answers["inspection_teams"] == AnswerData({"value": 7}, False)
    assert by_code["HU-NP"].answers["inspection_teams"].value == {"value": 3}
    assert by_code["DU-PHUOCDAN"].parent_code == "HU-NP"
    assert by_code["DU-PHUOCDAN"].group == "kiem_tra_truc_tiep"


def test_load_reports_for_one_unit(database, store):
    store.answer("HU-NP", "inspection_teams", na=True)
    store.answer("HU-NH", "inspection_teams", {"value": 1})
    _, _, reports = _load(database, "hu-np")
    assert [report.code for report in reports] == ["HU-NP"]
    assert reports[0].answers == {"inspection_teams": AnswerData(None, True)}
    assert reports[0].answer("inspected_units") is None
    assert reports[0].status == "in_progress" and reports[0].total == 18


def test_load_reports_for_a_unit_outside_the_campaign(database):
    with database.transaction() as session:
        replace_units(session, [UnitRow(code="NGOAI", name="Ngoài", level="xa", group="khac")])
    with pytest.raises(StorageError, match="không tham gia"):
        _load(database, "NGOAI")


# --- consolidation rules -----------------------------------------------------------------------

answers = st.one_of(
    st.none(),
    st.just("N/A"),
    st.tuples(st.integers(0, 10_000), st.integers(0, 10_000)).map(
        lambda pair: (min(pair), max(pair))
    ),
)


def _answer(kind: str, raw) -> AnswerData | None:
    if raw is None:
        return None
    if raw == "N/A":
        return AnswerData(None, True)
    done, total = raw
    if kind == "ratio":
        return AnswerData({"done": done, "total": total})
    if kind == "pair":
        return AnswerData({"times": done, "people": total})
    if kind == "percent":
        return AnswerData({"value": done / 100})
    return AnswerData({"value": done})


@given(st.lists(answers, max_size=12))
def test_totals_follow_the_consolidation_rules(raws):
    totals = Totals(FORM)
    for raw in raws:
        keys = ("complaints", "reception_local_regular", "satisfaction_pct", "supervisions")
        values = {key: _answer(FORM.question(key).kind, raw) for key in keys}
        totals.add("huyen", {k: v for k, v in values.items() if v is not None})
    given_values = [raw for raw in raws if raw not in (None, "N/A")]
    ratio = totals.figures(FORM.question("complaints"))
    pair = totals.figures(FORM.question("reception_local_regular"))
    percent = totals.figures(FORM.question("satisfaction_pct"))
    count = totals.figures(FORM.question("supervisions"))
    if not given_values:
        for figures in (ratio, pair, percent, count):
            assert all(f.value is None and f.role == EMPTY for f in figures)
        return
    done = sum(d for d, _ in given_values)
    total = sum(t for _, t in given_values)
    assert [f.value for f in ratio[:2]] == [done, total]
    if total:
        assert ratio[2].role == PCT and ratio[2].value == pytest.approx(done * 100 / total)
    else:
        assert ratio[2].role == NO_RATE and ratio[2].value == "—"
    assert [f.value for f in pair] == [done, total] and {f.role for f in pair} == {INT}
    assert count[0].value == done and type(count[0].value) is int
    expected = sum(d / 100 for d, _ in given_values) / len(given_values)
    assert percent[0].role == AVG and percent[0].value == pytest.approx(expected)


def test_unit_figures_keep_na_unanswered_and_not_asked_apart():
    ratio = FORM.question("complaints")
    assert [f.role for f in unit_figures(ratio, None, True)] == [UNANSWERED] * 3
    assert [f.value for f in unit_figures(ratio, AnswerData(None, True), True)] == ["x"] * 3
    assert [f.role for f in unit_figures(ratio, AnswerData(None, True), True)] == [NA] * 3
    assert [f.role for f in unit_figures(ratio, AnswerData({"done": 1}), False)] == [NOT_ASKED] * 3
    zero = unit_figures(ratio, AnswerData({"done": 0, "total": 0}), True)
    assert [(f.value, f.role) for f in zero] == [(0, INT), (0, INT), ("—", NO_RATE)]
    broken = unit_figures(ratio, AnswerData({"done": "x"}), True)
    assert broken[0].value == "{'done': 'x'}"  # a malformed value is shown, not hidden


def test_campaign_info_zone():
    info = CampaignInfo("c", "t", "", "", datetime(2022, 7, 5, tzinfo=UTC))
    assert str(info.zone) == "Asia/Ho_Chi_Minh"
