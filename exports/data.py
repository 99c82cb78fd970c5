"""What a document is built from, as plain dataclasses: the campaign, each unit's report, the
signed files.

`bot.documents.snapshot` fills them from storage in one transaction; the builders in `exports/`
only see these dataclasses (they import no `storage`), so a benchmark or a test can build them
in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from conversations.campaigns import DocumentHeading
from conversations.messages import format_day, format_deadline
from conversations.statuses import SubmissionStatus
from exports.consolidation import Deadlines
from exports.figures import AnswerData


@dataclass(frozen=True)
class CampaignInfo:
    code: str
    title: str
    issued_by: str
    receiver: str
    deadline: datetime
    timezone: str = "Asia/Ho_Chi_Minh"
    period_start: date | None = None
    period_end: date | None = None
    document: DocumentHeading = field(default_factory=DocumentHeading)
    own_deadlines: Mapping[str, datetime] = field(default_factory=dict, hash=False)

    @property
    def deadlines(self) -> Deadlines:
        """Who is late is judged against each unit's own deadline (Gia hạn), if it has one."""
        return Deadlines(self.deadline, self.own_deadlines)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def deadline_text(self) -> str:
        """The deadline in the plan's words: "trước ngày 05/7/2022"."""
        return self.document.deadline_text or format_deadline(self.deadline, self.zone)

    @property
    def period_text(self) -> str | None:
        """The reporting period: "từ ngày 11/5/2017 đến ngày 30/5/2022", or None."""
        if not self.period_start or not self.period_end:
            return None
        return f"từ ngày {format_day(self.period_start)} đến ngày {format_day(self.period_end)}"


@dataclass(frozen=True, slots=True)
class UnitHeading:
    """What the unit list says about the heading and signer of the unit's own Phụ lục."""

    superior: str | None = None
    heading_name: str | None = None
    place: str | None = None
    signer_for: str | None = None
    signer_title: str | None = None
    symbol: str | None = None  # ký hiệu: "HU" in "Số …-BC/HU"


@dataclass(slots=True)
class UnitReport:
    """One participating unit: who it is, how far it got, and what it answered."""

    code: str
    name: str
    level: str
    group: str | None = None
    parent_code: str | None = None
    status: str = SubmissionStatus.NOT_STARTED
    submitted_at: datetime | None = None
    submitted_by: str | None = None
    last_activity_at: datetime | None = None
    reminders_sent: int = 0
    answers: dict[str, AnswerData] = field(default_factory=dict)
    answered: int = 0
    total: int = 0
    heading: UnitHeading = UnitHeading()
    parent_name: str | None = None  # the unit above it (taking part or not), for its heading

    def answer(self, key: str) -> AnswerData | None:
        """The unit's answer to a question, or None when it has not been answered."""
        found = self.answers.get(key)
        return found if found is not None and found.answered else None


@dataclass(frozen=True)
class SignedFile:
    """A signed report file a unit sent back, as the exports list it."""

    file_name: str
    size: int
    received_at: datetime
    sender: str = ""
    path: str = ""  # relative to the data folder
