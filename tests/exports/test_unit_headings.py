"""The unit list's optional heading columns: migration 0003 on a database that already holds
units (SQLite and PostgreSQL), the import check, and the seed's bundled values.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from sqlmodel import select

from bot.unit_import import check_rows
from storage.database import alembic_config, open_database
from storage.models import Unit
from storage.repository import UnitRow, replace_units, seed_if_empty, unit_by_code

HEADING_COLUMNS = {"superior", "heading_name", "place", "signer_for", "signer_title", "symbol"}


def _migrate(url: str, revision: str, *, downgrade: bool = False) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    config = alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, revision) if downgrade else command.upgrade(config, revision)
    finally:
        engine.dispose()


def test_migration_0003_adds_the_columns_and_keeps_the_units(database_url):
    _migrate(database_url, "head")  # a fresh database, or the template already at the head
    _migrate(database_url, "0002", downgrade=True)  # as it was before this release
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO unit (code, name, level) VALUES ('HU-A', 'Huyện ủy A', 'huyen')")
        )
        before = {c["name"] for c in sa.inspect(connection).get_columns("unit")}
    engine.dispose()
    assert not HEADING_COLUMNS & before

    database = open_database(database_url)  # upgrades to the head, as every start does
    try:
        with database.transaction() as session:
            unit = unit_by_code(session, "HU-A")
            assert (unit.name, unit.superior, unit.signer_for) == ("Huyện ủy A", None, None)
            replace_units(
                session,
                [UnitRow("HU-A", "Huyện ủy A", "huyen", superior="ĐẢNG BỘ TỈNH", place="A")],
            )
        with database.transaction() as session:
            unit = unit_by_code(session, "HU-A")
            assert (unit.superior, unit.place, unit.heading_name) == ("ĐẢNG BỘ TỈNH", "A", None)
        with database.engine.connect() as connection:
            after = {c["name"] for c in sa.inspect(connection).get_columns("unit")}
        assert after >= HEADING_COLUMNS
    finally:
        database.dispose()

    _migrate(database_url, "0002", downgrade=True)  # and back down
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as connection:
        columns = {c["name"] for c in sa.inspect(connection).get_columns("unit")}
        names = connection.execute(sa.text("SELECT name FROM unit")).scalars().all()
    engine.dispose()
    assert not HEADING_COLUMNS & columns and names == ["Huyện ủy A"]


def test_the_import_reads_the_heading_columns_and_checks_their_length():
    header = ["code", "name", "level", "parent_code", "group", "superior", "signer_title"]
    rows = check_rows([header, ["HU-X", "Huyện ủy X", "huyen", "", "", "ĐẢNG BỘ TỈNH", "BÍ THƯ"]])
    assert rows == [
        UnitRow("HU-X", "Huyện ủy X", "huyen", superior="ĐẢNG BỘ TỈNH", signer_title="BÍ THƯ")
    ]
    try:
        check_rows([header, ["HU-X", "Huyện ủy X", "huyen", "", "", "X" * 201, ""]])
    except ValueError as error:
        assert "dòng 2: cột superior dài quá 200 ký tự" in str(error)
    else:
        raise AssertionError("a 201-character superior was accepted")


def test_the_bundled_units_carry_their_heading(sqlite_url, clock):
    database = open_database(sqlite_url)
    try:
        with database.transaction() as session:
            seed_if_empty(session, clock())
            units = {u.code: u for u in session.exec(select(Unit))}
        assert units["HU-NP"].superior == "ĐẢNG BỘ TỈNH NINH THUẬN"
        assert units["HU-NP"].heading_name == "HUYỆN ỦY NINH PHƯỚC"
        assert units["DU-PHUOCDAN"].signer_for == "T/M ĐẢNG ỦY"
        assert all(unit.signer_title == "BÍ THƯ" for unit in units.values())
    finally:
        database.dispose()
