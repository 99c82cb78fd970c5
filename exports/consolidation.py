"""What counts in a total, and the tree of participating units: the one place for both.

Every reader of a campaign's progress (the biểu of the consolidated table, `/status`, `baocao
status --json`) asks this module, so the rules of FORM-CT37.md "Consolidation rules" live here only:

* a report counts once submitted or approved (`counts`); drafts, returned and unstarted
  reports are shown with their status and never added;
* each unit reports for itself and what it manages, so a unit whose parent also takes part in
  the campaign is "trong đó" detail of that parent: listed beneath it (at any depth, whatever
  the groups), never added a second time. Only roots (no participating parent, or a parent
  missing from the campaign) are added into group subtotals and the province total;
* where the submitted children's figures add up to more than their submitted parent reported
  for the same figure, `mismatches` lists it for the secretariat's check sheet.

Items are any objects with `code`, `parent_code`, `group` and `status` (`UnitReport`,
`UnitProgress`), so the same tree serves the workbook and the chat.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from conversations.forms import Form, QuestionKind
from conversations.labels import GROUP_ORDER, group_title
from conversations.statuses import DONE, SubmissionStatus
from exports.figures import Totals, numbers_of, question_columns

SAMPLE_MARK = "(mẫu)"


def is_sample(member) -> bool:
    """A sample unit of the bundled list ("Ban Thường vụ Huyện ủy Bác Ái (mẫu)"): shown to try
    the bot out, never named in a report."""
    return SAMPLE_MARK in (getattr(member, "name", "") or "")


def counts(status: str) -> bool:
    """Whether a report with this status is counted: submitted or approved only (`DONE`)."""
    return status in DONE


class Member(Protocol):
    code: str
    parent_code: str | None
    group: str | None
    status: str


M = TypeVar("M", bound=Member)


@dataclass(frozen=True)
class Scope:
    """Who a total row is built from: `counted` of `roots` units, plus the detail beneath."""

    counted: int
    roots: int
    units: int
    submitted: int

    @property
    def label(self) -> str:
        return f"Tổng hợp từ {self.counted}/{self.roots} đơn vị đã nộp"


class UnitTree(Generic[M]):
    """Participating units as a forest following `parent_code` exactly.

    `order` sorts siblings (and roots); the default keeps the given order. A unit whose parent
    does not take part is a root; so is a unit caught in a parent cycle (the import refuses
    cycles, but an old database might hold one).
    """

    def __init__(self, members: Sequence[M], order: Callable[[M], object] | None = None) -> None:
        position = {id(member): index for index, member in enumerate(members)}
        self._order = order or (lambda member: position[id(member)])
        self.members = list(members)
        self.by_code: dict[str, M] = {member.code: member for member in members}
        self._parent: dict[str, str | None] = {}
        for member in members:
            parent = member.parent_code
            ok = parent is not None and parent in self.by_code and parent != member.code
            self._parent[member.code] = parent if ok else None
        self._break_cycles()
        self._children: dict[str, list[M]] = defaultdict(list)
        for member in members:
            parent = self._parent[member.code]
            if parent is not None:
                self._children[parent].append(member)
        for siblings in self._children.values():
            siblings.sort(key=self._order)

    def _break_cycles(self) -> None:
        for member in self.members:
            seen = {member.code}
            code = self._parent[member.code]
            while code is not None:
                if code in seen:
                    self._parent[member.code] = None
                    break
                seen.add(code)
                code = self._parent[code]

    # --- shape ---------------------------------------------------------------------------

    def parent(self, member: M) -> M | None:
        """The participating parent, or None for a root."""
        code = self._parent[member.code]
        return self.by_code[code] if code is not None else None

    def children(self, member: M) -> list[M]:
        return self._children.get(member.code, [])

    def is_root(self, member: M) -> bool:
        return self._parent[member.code] is None

    def roots(self) -> list[M]:
        return sorted((m for m in self.members if self.is_root(m)), key=self._order)

    def counted(self, member: M) -> bool:
        """Whether `member`'s figures go into group and province totals."""
        return self.is_root(member) and counts(member.status)

    def walk(self, member: M, depth: int = 0) -> Iterator[tuple[M, int]]:
        """`member` then its descendants, depth first, each with its depth below `member`."""
        yield member, depth
        for child in self.children(member):
            yield from self.walk(child, depth + 1)

    def groups(self) -> list[tuple[str | None, list[tuple[M, int]]]]:
        """[(group, [(member, depth), …]), …]: known groups first, then others by title.

        A root's whole subtree is listed in the root's group, so a commune stays beneath its
        district even when its own group is another one.
        """
        by_group: dict[str | None, list[M]] = defaultdict(list)
        for root in self.roots():
            by_group[root.group or None].append(root)
        result = []
        for group in sorted(by_group, key=group_order):
            rows = [row for root in by_group[group] for row in self.walk(root)]
            result.append((group, rows))
        return result

    def ordered(self) -> Iterator[M]:
        for _, rows in self.groups():
            for member, _depth in rows:
                yield member

    # --- scopes --------------------------------------------------------------------------

    def scope(self, rows: Sequence[tuple[M, int]]) -> Scope:
        """Who a total over `rows` (as listed by `groups`) is built from."""
        roots = [member for member, depth in rows if depth == 0]
        return Scope(
            counted=sum(counts(member.status) for member in roots),
            roots=len(roots),
            units=len(rows),
            submitted=sum(counts(member.status) for member, _ in rows),
        )

    def province_scope(self) -> Scope:
        return self.scope([row for _, rows in self.groups() for row in rows])


def group_order(group: str | None) -> tuple:
    if group in GROUP_ORDER:
        return (0, GROUP_ORDER.index(group), "")
    return (1 if group else 2, 0, group_title(group).casefold())


def level_order(form: Form, members: Sequence) -> Callable[[object], tuple]:
    """Siblings by the form's level order (tỉnh, sở, huyện, xã), then as given."""
    levels = {level: rank for rank, level in enumerate(form.levels)}
    position = {id(member): index for index, member in enumerate(members)}
    return lambda member: (levels.get(member.level, len(levels)), position[id(member)])


# --- status ------------------------------------------------------------------------------


def status_counts(members: Sequence[Member]) -> dict[str, int]:
    """Submitted (or approved) / in progress (or returned) / not started."""
    result = {
        SubmissionStatus.SUBMITTED: 0,
        SubmissionStatus.IN_PROGRESS: 0,
        SubmissionStatus.NOT_STARTED: 0,
    }
    for member in members:
        if counts(member.status):
            result[SubmissionStatus.SUBMITTED] += 1
        elif member.status == SubmissionStatus.NOT_STARTED:
            result[SubmissionStatus.NOT_STARTED] += 1
        else:
            result[SubmissionStatus.IN_PROGRESS] += 1
    return result


@dataclass(frozen=True)
class Deadlines:
    """The campaign's deadline and the units' own (set by Gia hạn), by unit code."""

    campaign: datetime
    own: Mapping[str, datetime] = field(default_factory=dict, hash=False)

    def of(self, code: str) -> datetime:
        """A unit's effective deadline: its own when extended, else the campaign's. Every
        lateness shown (the chat, the command line, the workbook, the web page) asks this."""
        return self.own.get(code, self.campaign)


def late(members: Sequence[M], deadlines: Deadlines, now: datetime) -> list[M]:
    """Units that have not submitted once their deadline has passed."""
    return [
        member
        for member in members
        if not counts(member.status) and now >= deadlines.of(member.code)
    ]


def status_summary(members: Sequence[M], deadlines: Deadlines, now: datetime) -> dict:
    """Counts, who is late, and who counts in the province total: for `baocao status --json`."""
    tree = UnitTree(members)
    overdue = late(members, deadlines, now)
    return {
        **status_counts(members),
        "late": [member.code for member in overdue],
        "province_total": tree.province_scope().label,
        "counted_in_totals": [member.code for member in members if tree.counted(member)],
    }


# --- totals and the parent/children check ------------------------------------------------


@dataclass(frozen=True)
class LeftOut:
    """A submitted unit whose figures are in no total: the unit above it takes part and has
    not submitted (so the unit is "trong đó" detail of a report that is not counted yet)."""

    member: Member
    waiting_for: Member  # the nearest unit above it that has not submitted


def left_out(tree: UnitTree, rows: Sequence[tuple[Member, int]] | None = None) -> list[LeftOut]:
    """Submitted units left out of every total because a unit above them has not submitted.

    Printed under every biểu of the consolidated table ("chưa tính vào tổng: …, vì … chưa
    nộp"), listed on the check sheet, and told by the unit's own draft, so that no figure is
    dropped silently."""
    members = [member for member, _ in rows] if rows is not None else list(tree.ordered())
    found = []
    for member in members:
        if not counts(member.status) or tree.is_root(member):
            continue
        parent = tree.parent(member)
        while parent is not None and not counts(parent.status) and not tree.is_root(parent):
            parent = tree.parent(parent)
        if parent is not None and not counts(parent.status):
            found.append(LeftOut(member, _first_unsubmitted(tree, member)))
    return found


def _first_unsubmitted(tree: UnitTree, member: Member) -> Member:
    parent = tree.parent(member)
    while parent is not None and counts(parent.status):
        parent = tree.parent(parent)
    assert parent is not None
    return parent


def left_out_text(items: Sequence[LeftOut]) -> str | None:
    """ "Chưa tính vào tổng: Đảng ủy xã Tri Hải (vì Ban Thường vụ Huyện ủy Ninh Hải chưa nộp)."."""
    if not items:
        return None
    parts = [f"{item.member.name} (vì {item.waiting_for.name} chưa nộp)" for item in items]
    return "Chưa tính vào tổng: " + "; ".join(parts) + "."


def standing_text(tree: UnitTree, member: Member) -> str:
    """Whether `member`'s figures are in a total, as its own draft report tells it, by the same
    rules as the totals (`counted`, `left_out`): counted in the province total; "trong đó" in
    the report of the submitted unit above it; left out because a unit above has not submitted;
    or not submitted yet."""
    if not counts(member.status):
        return (
            "Đơn vị chưa nộp báo cáo nên số liệu chưa được tính vào tổng hợp "
            "của Ban Dân vận Tỉnh ủy."
        )
    if tree.counted(member):
        return "Số liệu của đơn vị được tính vào tổng hợp toàn tỉnh."
    waiting = left_out(tree, [(member, 0)])
    if waiting:
        return (
            "Số liệu của đơn vị chưa được tính vào tổng hợp vì "
            f"{waiting[0].waiting_for.name} chưa nộp báo cáo."
        )
    parent = tree.parent(member)
    assert parent is not None  # not a root, and not left out: the unit above has submitted
    return (
        f"Số liệu của đơn vị đã có trong báo cáo của {parent.name} "
        "nên không cộng thêm lần nữa vào tổng hợp toàn tỉnh."
    )


def add_counted(tree: UnitTree, rows: Sequence[tuple[Member, int]], totals: Totals) -> None:
    """Add to `totals` the members of `rows` that count (submitted roots), and only them."""
    for member, _depth in rows:
        if tree.counted(member):
            totals.add(member.level, member.answers)


@dataclass(frozen=True)
class Mismatch:
    """Submitted children adding up to more than their submitted parent for one figure."""

    parent: Member
    question_key: str
    part: int  # index of the figure among the question's columns
    label: str
    parent_value: int
    children_sum: int
    children: int


def mismatches(tree: UnitTree, form: Form) -> list[Mismatch]:
    """Every figure where the submitted children's sum exceeds their submitted parent's value.

    Only counts are compared (integers, pairs, both halves of ratios, numbers of documents) and
    only for questions asked of both parent and child; typed percentages are not sums.
    """
    found: list[Mismatch] = []
    comparable = [q for q in form.questions if q.kind != QuestionKind.PERCENT]
    for parent in tree.ordered():
        children = [child for child in tree.children(parent) if counts(child.status)]
        if not children or not counts(parent.status):
            continue
        for question in comparable:
            if not question.applies_to(parent.level):
                continue
            own = _numbers(question, parent)
            if own is None:
                continue
            sums = [0] * len(own)
            contributors = 0
            for child in children:
                if not question.applies_to(child.level):
                    continue
                values = _numbers(question, child)
                if values is None:
                    continue
                contributors += 1
                sums = [total + value for total, value in zip(sums, values, strict=True)]
            columns = question_columns(question)
            for part, (mine, theirs) in enumerate(zip(own, sums, strict=True)):
                if contributors and theirs > mine:
                    label = question.label
                    if len(own) > 1:
                        label = f"{label} — {columns[part].header}"
                    found.append(
                        Mismatch(
                            parent, question.key, part, label, int(mine), int(theirs), contributors
                        )
                    )
    return found


def _numbers(question, member) -> list[int | float] | None:
    answer = member.answer(question.key)
    if answer is None or answer.not_applicable:
        return None
    return numbers_of(question, answer.value)
