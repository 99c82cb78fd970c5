"""Every table as JSON lines, read in one consistent snapshot and written back on either
database: the data half of `baocao backup` / `baocao restore` (the archive is `bot.backup`).

Values are encoded by column type, not guessed: timestamps as ISO 8601 in UTC, JSON columns as
the JSON they hold, bytes as base64, everything else as JSON's own numbers, strings, booleans and
null. The same lines load into SQLite or PostgreSQL, so a backup is also the way to move from one
to the other. Reading happens in a read-only REPEATABLE READ transaction on PostgreSQL and in one
deferred transaction (one WAL snapshot) on SQLite: `baocao run` keeps writing meanwhile.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Connection, Engine, LargeBinary, MetaData, Table, func, insert, select
from sqlalchemy import delete as sql_delete
from sqlalchemy import inspect as sql_inspect
from sqlalchemy.sql.sqltypes import Date, DateTime, Numeric
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
import storage.quota  # noqa: F401  (the monthly message counter)
from storage.schema import VERSION_TABLE, current_revision

BATCH = 500


def tables_in(connection: Connection) -> list[Table]:
    """The database's tables in dependency order (parents first), described by the models
    where a model exists, by reflection otherwise; Alembic's own table left out."""
    present = set(sql_inspect(connection).get_table_names()) - {VERSION_TABLE}
    known = {table.name: table for table in SQLModel.metadata.sorted_tables}
    metadata = MetaData()
    extra = sorted(present - set(known))
    if extra:
        metadata.reflect(connection, only=extra)
    ordered = [table for table in SQLModel.metadata.sorted_tables if table.name in present]
    return ordered + [metadata.tables[name] for name in extra]


# --- encoding -------------------------------------------------------------------------------


def _encoder(column) -> Callable[[object], object]:
    kind = column.type
    if isinstance(kind, JSON):
        return lambda value: value
    if isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime):
        return _encode_moment
    if isinstance(kind, Date):
        return lambda value: None if value is None else value.isoformat()
    if isinstance(kind, LargeBinary):
        return lambda value: None if value is None else base64.b64encode(value).decode()
    if isinstance(kind, Numeric):
        return lambda value: None if value is None else str(value)
    return _plain


def _decoder(column) -> Callable[[object], object]:
    kind = column.type
    if isinstance(kind, JSON):
        return lambda value: value
    if isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime):
        return _decode_moment
    if isinstance(kind, Date):
        return lambda value: None if value is None else date.fromisoformat(value)
    if isinstance(kind, LargeBinary):
        return lambda value: None if value is None else base64.b64decode(value)
    if isinstance(kind, Numeric):
        return lambda value: None if value is None else Decimal(value)
    return lambda value: value


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):  # a reflected column of a type we did not foresee
        return value.isoformat()
    return value


def _encode_moment(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def _decode_moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


# --- reading --------------------------------------------------------------------------------


def read_snapshot(
    engine: Engine, write: Callable[[str, Iterator[str]], int]
) -> tuple[str | None, dict[str, int]]:
    """Read every table in one consistent snapshot; `write(table, lines)` stores one table's JSON
    lines and returns how many it wrote. Returns (schema revision, rows per table)."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            connection.begin()
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        else:
            connection.begin()
            # The driver would not begin before a SELECT: without this each table would be
            # read in its own snapshot.
            connection.exec_driver_sql("BEGIN")
            connection.exec_driver_sql(f"SELECT count(*) FROM {VERSION_TABLE}")
        try:
            revision = current_revision(connection)
            counts = {}
            for table in tables_in(connection):
                counts[table.name] = write(table.name, _table_lines(connection, table))
            return revision, counts
        finally:
            connection.rollback()


def _table_lines(connection: Connection, table: Table) -> Iterator[str]:
    encoders = [(column.name, _encoder(column)) for column in table.columns]
    order = list(table.primary_key.columns) or list(table.columns)
    result = connection.execute(select(table).order_by(*order)).yield_per(BATCH)
    for row in result:
        record = {name: encode(value) for (name, encode), value in zip(encoders, row, strict=True)}
        yield json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# --- writing --------------------------------------------------------------------------------


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in tables_in(connection)
        }


def empty_tables(engine: Engine) -> None:
    """Delete every row, children first (for `restore --force`)."""
    with engine.begin() as connection:
        for table in reversed(tables_in(connection)):
            connection.execute(sql_delete(table))


def load_snapshot(engine: Engine, read: Callable[[str], Iterable[str] | None]) -> dict[str, int]:
    """Insert every table's lines (`read(table)`, None when the backup has no such table) in
    dependency order, in one transaction; then move PostgreSQL's id sequences past the ids
    restored. Returns rows per table."""
    counts: dict[str, int] = {}
    with engine.begin() as connection:
        for table in tables_in(connection):
            lines = read(table.name)
            if lines is None:
                continue
            decoders = {column.name: _decoder(column) for column in table.columns}
            rows = [
                {
                    name: decoders[name](value)
                    for name, value in json.loads(line).items()
                    if name in decoders
                }
                for line in lines
                if line.strip()
            ]
            rows = _parents_first(table, rows)
            for start in range(0, len(rows), BATCH):
                connection.execute(insert(table), rows[start : start + BATCH])
            counts[table.name] = len(rows)
        if connection.dialect.name == "postgresql":
            _reset_sequences(connection, tables_in(connection))
    return counts


def _parents_first(table: Table, rows: list[dict]) -> list[dict]:
    """Order rows so that a row referring to its own table (a commune's district) comes after
    the row it refers to: foreign keys are checked row by row."""
    links = [
        (key.parent.name, key.column.name)
        for key in table.foreign_keys
        if key.column.table is table
    ]
    if not links or not rows:
        return rows
    by_key = {(target, row.get(target)): row for _, target in links for row in rows}
    placed: set[int] = set()
    ordered: list[dict] = []

    def place(row: dict, depth: int = 0) -> None:
        if id(row) in placed or depth > len(rows):
            return
        for source, target in links:
            parent = by_key.get((target, row.get(source)))
            if parent is not None and parent is not row:
                place(parent, depth + 1)
        placed.add(id(row))
        ordered.append(row)

    for row in rows:
        place(row)
    return ordered


def _reset_sequences(connection: Connection, tables: list[Table]) -> None:
    for table in tables:
        for column in table.primary_key.columns:
            sequence = connection.exec_driver_sql(
                "SELECT pg_get_serial_sequence(%s, %s)", (f'"{table.name}"', column.name)
            ).scalar()
            if sequence is None:
                continue
            connection.exec_driver_sql(
                f'SELECT setval(%s, COALESCE((SELECT MAX("{column.name}") FROM "{table.name}"), 1),'
                f' (SELECT MAX("{column.name}") FROM "{table.name}") IS NOT NULL)',
                (sequence,),
            )
