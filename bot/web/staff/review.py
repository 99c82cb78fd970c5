"""What the secretariat reads before approving one unit's report, shown above the actions:
lateness ("nộp muộn 2 ngày", as the chat and the workbook say it), how often the report was
returned and sent again, every "Kiểm tra số liệu" finding that concerns the unit (with the
figures), the unusual values the officer confirmed in the chat, the officer's notes, whether a
signed report came back, and the parent and children to compare with.

The parent/children check is `exports.consolidation.mismatches`, the same one the workbook's
check sheet uses, run on the unit's family only (its parent, the parent's children, its own
children), so a page of one unit never loads the whole province's answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from bot.web.staff.wording import until_text
from conversations.checks import Checks
from conversations.formatting import format_number
from conversations.forms import Form, Question
from conversations.messages import format_deadline, late_days, late_phrase
from exports.consolidation import UnitTree, counts, mismatches
from exports.data import UnitReport
from exports.figures import AnswerData, numbers_of
from storage.models import Answer, StaffAction, Submission


@dataclass(frozen=True)
class Finding:
    """One figure where the submitted children add up to more than their parent reported."""

    section: str
    label: str
    parent_name: str
    parent_code: str
    parent_value: str
    children_sum: str
    children: int
    own_value: str | None  # this unit's figure when it is one of the children


def lateness_text(row, now: datetime) -> str:
    """ "nộp đúng hạn", "nộp muộn 2 ngày", "quá hạn 3 ngày, chưa nộp", or "" before the
    deadline."""
    item = row.progress
    if counts(item.status) and item.submitted_at:
        return late_phrase(row.deadline, item.submitted_at) or "nộp đúng hạn"
    if row.late:
        return f"quá hạn {late_days(row.deadline, now)} ngày, chưa nộp"
    return ""


def deadline_text(row, campaign_deadline: datetime, zone) -> str:
    """The campaign's deadline in the plan's words; a unit's own (Gia hạn) as "đến hết ngày"."""
    if row.deadline != campaign_deadline:
        return until_text(row.deadline, zone)
    return format_deadline(row.deadline, zone)


def returns_count(session: Session, unit_id: int, since: datetime) -> int:
    """How many times this unit's report was returned in the campaign (since it was created)."""
    return session.exec(
        select(func.count(StaffAction.id)).where(
            StaffAction.unit_id == unit_id,
            StaffAction.action == "return",
            col(StaffAction.at) >= since,
        )
    ).one()


def resubmission_text(returns: int, status: str) -> str:
    if not returns:
        return "chưa lần nào bị trả lại"
    if counts(status):
        return f"đã bị trả lại {returns} lần, đơn vị đã sửa và nộp lại"
    return f"đã bị trả lại {returns} lần, đơn vị chưa nộp lại"


def confirmed_warnings(
    form: Form, level: str, answers: Mapping[str, Answer], number
) -> list[tuple[Question, str]]:
    """Answers that fail a soft check: the chat asked back and the officer kept them."""
    checks = Checks(form, level, answers, number)
    found = []
    for question in form.questions_for(level):
        answer = answers.get(question.key)
        if answer is None or answer.not_applicable or not isinstance(answer.value, dict):
            continue
        doubt = checks.implausible(question, answer.value)
        if doubt:
            found.append((question, doubt))
    return found


def family_findings(session: Session, form: Form, state, row) -> list[Finding]:
    """The check sheet's findings where this unit is the parent or one of the children."""
    by_code = {r.unit.code: r for r in state.rows}
    unit_code, parent_code = row.unit.code, row.progress.parent_code
    codes = {unit_code}
    if parent_code and parent_code in by_code:
        codes.add(parent_code)
    for other in state.rows:
        if other.progress.parent_code == unit_code or (
            parent_code is not None and other.progress.parent_code == parent_code
        ):
            codes.add(other.unit.code)
    family = [by_code[c] for c in codes if counts(by_code[c].progress.status)]
    if len(family) < 2:
        return []
    answers = _answers(session, [r.progress.submission_id for r in family])
    members = [
        UnitReport(
            code=r.unit.code,
            name=r.unit.name,
            level=r.progress.level,
            group=r.progress.group,
            parent_code=r.progress.parent_code,
            status=r.progress.status,
            answers=answers.get(r.progress.submission_id, {}),
        )
        for r in family
    ]
    tree = UnitTree(members)
    own = next(m for m in members if m.code == unit_code) if unit_code in tree.by_code else None
    found = []
    for mismatch in mismatches(tree, form):
        parent = mismatch.parent
        if parent.code != unit_code and (parent.code != parent_code or own is None):
            continue
        question = form.question(mismatch.question_key)
        own_value = None
        if parent.code != unit_code and own is not None:
            answer = own.answer(question.key)
            own_value = _part(question, answer, mismatch.part)
        found.append(
            Finding(
                section=question.section,
                label=mismatch.label,
                parent_name=parent.name,
                parent_code=parent.code,
                parent_value=format_number(mismatch.parent_value),
                children_sum=format_number(mismatch.children_sum),
                children=mismatch.children,
                own_value=own_value,
            )
        )
    return found


def _part(question: Question, answer: AnswerData | None, part: int) -> str | None:
    if answer is None or answer.not_applicable:
        return None
    numbers = numbers_of(question, answer.value)
    return format_number(numbers[part]) if numbers and part < len(numbers) else None


def _answers(session: Session, submission_ids: list[int | None]) -> dict[int, dict]:
    ids = [i for i in submission_ids if i is not None]
    found: dict[int, dict[str, AnswerData]] = {}
    if not ids:
        return found
    rows = session.exec(
        select(Answer.submission_id, Answer.question_key, Answer.value, Answer.not_applicable)
        .join(Submission, Submission.id == Answer.submission_id)
        .where(col(Answer.submission_id).in_(ids))
    )
    for submission_id, key, value, not_applicable in rows:
        found.setdefault(submission_id, {})[key] = AnswerData(
            value if isinstance(value, dict) else None, bool(not_applicable)
        )
    return found


def relatives(state, row) -> tuple[object | None, list]:
    """The parent row (when it takes part) and the children rows, for links on the page."""
    parent_code = row.progress.parent_code
    parent = next((r for r in state.rows if r.unit.code == parent_code), None)
    children = [r for r in state.rows if r.progress.parent_code == row.unit.code]
    return parent, children
