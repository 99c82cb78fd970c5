"""Fixtures for the export tests: a real SQLite database seeded with the CT37 campaign, helpers
to store answers and statuses the way the service does, and readers for the exported sheets.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from exports.table_plan import UNIT_COLUMNS
from storage.database import Database, open_database
from storage.hot_path import load_answers, write_answer
from storage.models import Contact, ReminderLog, Unit
from storage.repository import (
    UnitRow,
    current_campaign,
    replace_units,
    seed_if_empty,
    submission_for,
    unit_by_code,
)

NOW = datetime(2022, 7, 4, 1, 30, tzinfo=UTC)  # 08:30 in Vietnam


@pytest.fixture
def database(tmp_path) -> Database:
    db = open_database(f"sqlite:///{tmp_path / 'baocao.db'}")
    with db.transaction() as session:
        seed_if_empty(session, NOW)
    yield db
    db.dispose()


class Store:
    """Writes answers and statuses through storage.repository, like the service does."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def answer(
        self, code: str, key: str, value: dict | None = None, *, na: bool = False, note=None
    ):
        with self.database.transaction() as session:
            campaign = current_campaign(session)
            submission = submission_for(session, campaign, _unit(session, code))
            existing = load_answers(session, submission.id).get(key)
            write_answer(
                session,
                submission,
                key=key,
                value=None if na else value,
                not_applicable=na,
                raw="Không áp dụng" if na else str(value),
                contact_id=None,
                channel="console",
                now=NOW,
                existing=existing,
                note=note,
            )
            if submission.status == "not_started":
                submission.status = "in_progress"
            submission.last_activity_at = NOW
            session.add(submission)

    def answers(self, code: str, values: dict[str, object]) -> None:
        for key, value in values.items():
            if value == "N/A":
                self.answer(code, key, na=True)
            else:
                self.answer(code, key, value)

    def submit(self, code: str, *, by: str = "Nguyễn Thị Lan", at: datetime = NOW) -> None:
        with self.database.transaction() as session:
            campaign = current_campaign(session)
            unit = unit_by_code(session, code)
            contact = Contact(
                channel="telegram",
                external_id=f"officer-{code}",
                chat_id=f"officer-{code}",
                display_name=by,
                unit_id=unit.id,
                created_at=NOW,
            )
            session.add(contact)
            session.flush()
            submission = submission_for(session, campaign, unit)
            submission.status = "submitted"
            submission.submitted_at = at
            submission.submitted_by = contact.id
            submission.last_activity_at = at
            session.add(submission)

    def set_status(self, code: str, status: str) -> None:
        with self.database.transaction() as session:
            submission = submission_for(
                session, current_campaign(session), unit_by_code(session, code)
            )
            submission.status = status
            session.add(submission)

    def add_units(self, *rows: UnitRow) -> None:
        with self.database.transaction() as session:
            replace_units(session, rows)

    def remind(self, code: str, slots: int) -> None:
        with self.database.transaction() as session:
            campaign = current_campaign(session)
            unit = unit_by_code(session, code)
            contact = session.exec(select(Contact).where(Contact.unit_id == unit.id)).first()
            for slot in range(slots):
                session.add(
                    ReminderLog(
                        campaign_id=campaign.id,
                        contact_id=contact.id,
                        slot=f"slot-{slot}",
                        status="queued",
                        at=NOW,
                    )
                )


def _unit(session, code: str) -> Unit:
    """The unit with exactly this code (SQLite's upper() leaves "ổ" alone), else by any case."""
    found = session.exec(select(Unit).where(Unit.code == code)).first()
    return found or unit_by_code(session, code)


@pytest.fixture
def store(database) -> Store:
    return Store(database)


def open_workbook(data: bytes):
    return load_workbook(io.BytesIO(data))


def sheet_xml(data: bytes) -> dict[str, str]:
    """Every worksheet's XML, to check what openpyxl's reader would hide (formulas)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            name: archive.read(name).decode("utf-8")
            for name in archive.namelist()
            if name.startswith("xl/worksheets/")
        }


def find_row(ws, column: int, value: object) -> int:
    for row in range(1, ws.max_row + 1):
        if ws.cell(row, column).value == value:
            return row
    raise AssertionError(f"{value!r} not found in column {column} of {ws.title}")


def summary_columns(ws) -> tuple[int, dict[tuple[str, str], int]]:
    """(first data row, {(figure header, part header): column}) of a biểu sheet, or of the
    biểu seen as one table (`Summary`)."""
    top = find_row(ws, 1, "STT")
    columns: dict[tuple[str, str], int] = {}
    figure = None
    for column in range(UNIT_COLUMNS + 1, ws.max_column + 1):
        figure = ws.cell(top + 1, column).value or figure
        part = ws.cell(top + 2, column).value
        columns[(figure, part)] = column
    return top + 3, columns


def unit_row(ws, name: str) -> int:
    """The row of a unit in a biểu (or `Summary`), by name (beneath its parent: "– name")."""
    for row in range(1, ws.max_row + 1):
        value = ws.cell(row, 2).value
        if isinstance(value, str) and value.removeprefix("– ") == name:
            return row
    raise AssertionError(f"{name!r} not found in {ws.title}")


def table_rows(ws) -> list[list]:
    """The rows of a list sheet's table: after its "STT" header row, up to the first empty row."""
    rows = []
    for row in ws.iter_rows(min_row=find_row(ws, 1, "STT") + 1, values_only=True):
        if all(value is None for value in row):
            break
        rows.append(list(row))
    return rows


BIEU_PREFIX = "Biểu số "


def bieu_sheets(workbook) -> list:
    """The consolidated table's biểu sheets ("Biểu số 01", …), in order."""
    return [workbook[name] for name in workbook.sheetnames if name.startswith(BIEU_PREFIX)]


class Summary:
    """The biểu sheets of a consolidated workbook read as the one table they split: columns
    1–3 (STT, name, status) and rows from the first biểu, then every biểu's figure columns in
    turn. Every biểu must carry the same unit rows, numbered alike (checked on construction),
    so a row found on one biểu is the same row on all of them."""

    def __init__(self, workbook) -> None:
        self.sheets = bieu_sheets(workbook)
        assert self.sheets, workbook.sheetnames
        first = self.sheets[0]
        top = find_row(first, 1, "STT")
        end = find_row(first, 2, "Số đơn vị có số liệu")  # the last row of every biểu's table
        # STT and name; the status may differ (it points to the notes under its own biểu)
        rows = [[first.cell(row, column).value for column in (1, 2)] for row in range(top, end + 1)]
        self.places: list[tuple[object, int]] = [(first, c) for c in range(1, UNIT_COLUMNS + 1)]
        for ws in self.sheets:
            assert find_row(ws, 1, "STT") == top, ws.title
            same = [
                [ws.cell(row, column).value for column in (1, 2)] for row in range(top, end + 1)
            ]
            assert same == rows, ws.title  # the same unit rows, numbered alike, on every biểu
            self.places += [(ws, c) for c in range(UNIT_COLUMNS + 1, ws.max_column + 1)]
        self.title = "các biểu tổng hợp"

    @property
    def max_row(self) -> int:
        return self.sheets[0].max_row

    @property
    def max_column(self) -> int:
        return len(self.places)

    def cell(self, row: int, column: int):
        ws, real = self.places[column - 1]
        return ws.cell(row, real)

    def sheet_of(self, column: int):
        return self.places[column - 1][0]
