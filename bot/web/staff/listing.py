"""The unit list: find a unit whatever way its name is typed, filter, sort, one page at a time.

Search ignores case, diacritics and the Unicode form (NFC or NFD; đ/Đ read as d) on the name and
the code (`wording.fold`). Filters: status, group, level, district (the district and its
communes), and lateness (late and not submitted, or submitted late). Every column sorts both
ways; the default keeps the tree (a commune under its district). All of it lives in the URL, so
a filtered list can be bookmarked, sent, and acted on (Nhắc for the whole filter).

What is per unit and does not change between requests (the folded text, the district a unit
belongs to) is computed once per progress snapshot, and so is each list's HTML (per scope,
filter, page and minute), so a page of 200 rows out of 10,000 costs a scan of short strings
once, and every further view of it a lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from urllib.parse import urlencode

from sqlmodel import Session

from bot.use_cases import Actor
from bot.web.inputs import parse_page
from bot.web.staff.pages import STATUSES, Row, Standing, group_rank, standing
from bot.web.staff.progress_cache import ProgressCache
from bot.web.staff.wording import fold
from conversations.labels import LEVEL_TITLES, group_title, level_title, status_title
from conversations.messages import format_moment
from conversations.statuses import SubmissionStatus
from exports.consolidation import counts

PAGE_SIZE = 200
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DISTRICT_LEVEL = "huyen"
SORTS = {
    "ten": "Đơn vị",
    "tinh-trang": "Tình trạng",
    "tien-do": "Tiến độ",
    "hoat-dong": "Hoạt động gần nhất",
    "da-nhac": "Đã nhắc",
}
LATENESS = {"qua-han": "quá hạn, chưa nộp", "nop-muon": "nộp muộn"}
STATUS_GROUPS = {  # what the overview's tiles count, as a list filter
    "da-nop": lambda row: counts(row.progress.status),
    "dang-dien": lambda row: (
        row.progress.status in (SubmissionStatus.IN_PROGRESS, SubmissionStatus.RETURNED)
    ),
    "late": lambda row: row.late,
}
GROUP_TITLES = {"da-nop": "đã nộp (kể cả đã duyệt)", "dang-dien": "đang điền (kể cả bị trả lại)"}
STATUS_RANK = {status: index for index, status in enumerate(STATUSES)}


@dataclass(frozen=True)
class ListFilter:
    """What the list shows; each field is one URL parameter (`PARAMS`)."""

    query: str = ""
    status: str = ""
    group: str = ""
    level: str = ""
    district: str = ""
    lateness: str = ""
    sort: str = ""
    descending: bool = False
    page: int = 1

    @property
    def active(self) -> bool:
        return any((self.query, self.status, self.group, self.level, self.district, self.lateness))

    def params(self, **changes) -> dict[str, str]:
        """The URL parameters of this filter (with `changes`), empty ones left out."""
        values = {f.name: getattr(self, f.name) for f in fields(self)} | changes
        out = {}
        for name, param in PARAMS.items():
            value = values[name]
            if value in ("", None, False) or (name == "page" and value == 1):
                continue
            out[param] = "1" if value is True else str(value)
        return out

    def url(self, **changes) -> str:
        params = self.params(**changes)
        return "/web/don-vi" + (f"?{urlencode(params)}" if params else "")

    def sort_url(self, column: str) -> str:
        descending = self.sort == column and not self.descending
        return self.url(sort=column, descending=descending, page=1)

    def sort_state(self, column: str) -> str:
        """aria-sort of a column heading."""
        if self.sort != column:
            return "none"
        return "descending" if self.descending else "ascending"


PARAMS = {
    "query": "tim",
    "status": "trang-thai",
    "group": "nhom",
    "level": "cap",
    "district": "huyen",
    "lateness": "han",
    "sort": "xep",
    "descending": "giam",
    "page": "trang",
}


def read_filter(query) -> ListFilter:
    """A `ListFilter` from URL parameters; anything unknown or too long is ignored, a page
    number that is not one is refused (`BadInput`, a 400)."""
    sort = query.get("xep", "")
    lateness = query.get("han", "")
    return ListFilter(
        query=query.get("tim", "").strip()[:100],
        status=query.get("trang-thai", "")[:20],
        group=query.get("nhom", "")[:40],
        level=query.get("cap", "")[:20],
        district=query.get("huyen", "")[:40],
        lateness=lateness if lateness in LATENESS else "",
        sort=sort if sort in SORTS else "",
        descending=query.get("giam", "") == "1",
        page=parse_page(query.get("trang")),
    )


@dataclass(frozen=True)
class Facts:
    """Per unit, once per snapshot: folded name and code, and the district it belongs to."""

    folded: dict[int, str]
    district: dict[int, str]


_FOLDED: dict[tuple[str, str], str] = {}  # (name, code) -> folded text, across snapshots


def _folded(name: str, code: str) -> str:
    found = _FOLDED.get((name, code))
    if found is None:
        if len(_FOLDED) > 200_000:
            _FOLDED.clear()
        found = _FOLDED[(name, code)] = f"{fold(name)} {fold(code)}"
    return found


def _facts(state: Standing) -> Facts:
    folded, district = {}, {}
    by_code = {row.unit.code: row for row in state.rows}
    for row in state.rows:
        unit = row.unit
        folded[unit.id] = _folded(unit.name, unit.code)
        found, seen = row, 0
        while found is not None and found.progress.level != DISTRICT_LEVEL and seen < 20:
            parent = found.progress.parent_code
            found, seen = by_code.get(parent) if parent else None, seen + 1
        if found is not None:
            district[unit.id] = found.unit.code
    return Facts(folded, district)


def submitted_late(row: Row) -> bool:
    item = row.progress
    submitted = item.submitted_at
    return counts(item.status) and submitted is not None and submitted > row.deadline


def keeps(wanted: ListFilter, row: Row, facts: Facts, needle: str) -> bool:
    item = row.progress
    if wanted.group and (item.group or "") != wanted.group:
        return False
    if wanted.level and item.level != wanted.level:
        return False
    if wanted.status in STATUS_GROUPS:
        if not STATUS_GROUPS[wanted.status](row):
            return False
    elif wanted.status and item.status != wanted.status:
        return False
    if wanted.district and facts.district.get(item.unit.id) != wanted.district:
        return False
    if wanted.lateness == "qua-han" and not row.late:
        return False
    if wanted.lateness == "nop-muon" and not submitted_late(row):
        return False
    return not needle or needle in facts.folded.get(item.unit.id, "")


def _sort_key(column: str):
    if column == "ten":
        return lambda row: fold(row.unit.name)
    if column == "tinh-trang":
        return lambda row: (STATUS_RANK.get(row.progress.status, 9), not row.late)
    if column == "tien-do":
        return lambda row: row.progress.answered / row.progress.total if row.progress.total else 0
    if column == "hoat-dong":
        return lambda row: (row.progress.last_activity_at or EPOCH).timestamp()
    return lambda row: row.progress.reminders_sent


def matching_rows(
    session: Session,
    actor: Actor,
    now: datetime,
    wanted: ListFilter,
    cache: ProgressCache,
    campaign_code: str | None = None,
) -> tuple[Standing, list[Row]]:
    """Every row of the actor's scope the filter keeps, sorted (not paged)."""
    state = standing(session, actor, now, cache, campaign_code)
    facts = cache.derived(state.snapshot, ("facts", actor.scope_unit_id), lambda: _facts(state))
    key = ("list", actor.scope_unit_id, state.now, tuple(sorted(wanted.params(page=1).items())))

    def compute() -> list[Row]:
        needle = fold(wanted.query)
        rows = [row for row in state.rows if keeps(wanted, row, facts, needle)]
        if wanted.sort:
            rows.sort(key=_sort_key(wanted.sort), reverse=wanted.descending)
        return rows

    return state, cache.derived(state.snapshot, key, compute)


def unit_list(
    session: Session,
    actor: Actor,
    now: datetime,
    wanted: ListFilter,
    cache: ProgressCache,
    campaign_code: str | None = None,
    render: Callable[[dict], str] | None = None,
) -> dict:
    """The filtered list, `PAGE_SIZE` rows a page (a phone cannot show 10,000 rows at once).

    `render` turns the list (filter form, count, table, pager: nothing that depends on who
    views it) into HTML, kept with the snapshot per scope, filter, page and minute: twenty
    sessions reading the same page render it once, and each request only wraps it in its
    header. Without `render`, `body` is None and the context holds what it would render."""
    state, matching = matching_rows(session, actor, now, wanted, cache, campaign_code)
    pages = max(1, -(-len(matching) // PAGE_SIZE))
    page = min(max(wanted.page, 1), pages)
    key = (actor.scope_unit_id, state.now, tuple(sorted(wanted.params(page=1).items())), page)

    def context() -> dict:
        return {
            "rows": matching[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
            "filter": wanted,
            "sorts": SORTS,
            "moment": lambda moment: format_moment(moment, state.zone),
            "standing": state,
            "matching": len(matching),
            "waiting": sum(1 for row in matching if not counts(row.progress.status)),
            "page": page,
            "pages": pages,
            "lateness": list(LATENESS.items()),
            **cache.derived(
                state.snapshot, ("options", actor.scope_unit_id), lambda: _options(state)
            ),
        }

    if render is None:
        return context() | {"body": None}
    body = cache.derived(state.snapshot, ("list_html", *key), lambda: render(context()))
    return {"body": body, "standing": state, "filter": wanted}


def _options(state: Standing) -> dict:
    groups = sorted({row.progress.group or "" for row in state.rows}, key=group_rank)
    levels = sorted({row.progress.level for row in state.rows}, key=_level_rank)
    districts = [
        (row.unit.code, row.unit.name) for row in state.rows if row.progress.level == DISTRICT_LEVEL
    ]
    return {
        "groups": [(g, group_title(g or None)) for g in groups],
        "levels": [(lv, level_title(lv)) for lv in levels],
        "districts": districts,
        "statuses": [(s, status_title(s)) for s in STATUSES] + list(GROUP_TITLES.items()),
    }


def _level_rank(level: str) -> int:
    order = list(LEVEL_TITLES)
    return order.index(level) if level in order else len(order)
