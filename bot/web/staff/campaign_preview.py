"""The chat as an officer will see it: every question of a campaign, for each level it reaches,
in the words the assistant sends.

The preview runs the pure dialogue engine (`conversations.engine.step`) on a fresh state for the
level and answers «bỏ qua» to each question, keeping the question texts it replies with; so the
page shows exactly what the chat shows (numbering "Câu 1/N — Mục …", hints, buttons) and has no
copy of the engine's wording to keep in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from conversations.campaigns import CampaignSpec
from conversations.engine import CampaignBrief, Dialogue, Reply, State, Text, step
from conversations.forms import Form, level_questions
from conversations.labels import LEVEL_TITLES

PREVIEW_UNIT = "(tên đơn vị)"


@dataclass(frozen=True)
class PreviewQuestion:
    text: str  # the message, from "Câu n/N" on
    buttons: tuple[str, ...]  # the labels a channel with buttons shows under it


@dataclass(frozen=True)
class LevelPreview:
    level: str
    title: str
    questions: tuple[PreviewQuestion, ...]


def preview_levels(form: Form, spec: CampaignSpec) -> list[str]:
    """The levels the campaign reaches: its participants' levels, else every level of the form."""
    chosen = spec.participants.levels
    return [level for level in form.levels if not chosen or level in chosen]


def preview(form: Form, spec: CampaignSpec, now: datetime) -> list[LevelPreview]:
    """One preview per level the campaign reaches, each question as the chat asks it."""
    return [
        LevelPreview(level, LEVEL_TITLES.get(level, level), _questions(form, spec, level, now))
        for level in preview_levels(form, spec)
    ]


def _questions(
    form: Form, spec: CampaignSpec, level: str, now: datetime
) -> tuple[PreviewQuestion, ...]:
    total = len(level_questions(form, level))
    state = State(
        dialogue=Dialogue(),
        answers={},
        level=level,
        status="not_started",
        unit_name=PREVIEW_UNIT,
        campaign=CampaignBrief(
            issued_by=spec.issued_by,
            receiver=spec.receiver or "Ban Dân vận Tỉnh ủy",
            deadline=spec.deadline,
            period_start=spec.period_start,
            period_end=spec.period_end,
        ),
        buttons=True,
    )
    shown: list[PreviewQuestion] = []
    event = Text("bắt đầu")
    for number in range(1, total + 1):
        state, effects = step(state, event, form, now)
        reply = next((e for e in effects if isinstance(e, Reply)), None)
        heading = f"Câu {number}/{total}"
        if reply is None or heading not in reply.text:
            break  # the engine went elsewhere (it should not): show what was collected
        text = reply.text[reply.text.index(heading) :]
        shown.append(PreviewQuestion(text, tuple(choice.label for choice in reply.choices)))
        event = Text("bỏ qua")
    return tuple(shown)
