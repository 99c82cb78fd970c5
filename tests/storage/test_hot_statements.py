"""The hot path's statements are derived from the tables: every column they read or write is
one of the metadata's, every parameter the hot path passes is one the statement names, and the
SQL is compiled for both databases."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column
from sqlalchemy.sql import visitors
from sqlmodel import SQLModel

from storage.hot_statements import (
    POSTGRESQL_SQL,
    POSTGRESQL_STATEMENTS,
    SQLITE_SQL,
    SQLITE_STATEMENTS,
)
from storage.models import Answer


def columns_of(statement) -> set[Column]:
    return {element for element in visitors.iterate(statement) if isinstance(element, Column)} | {
        column for table in _tables(statement) for column in _written(statement, table)
    }


def _tables(statement) -> list:
    table = getattr(statement, "table", None)
    return [table] if table is not None else []


def _written(statement, table) -> list[Column]:
    values = getattr(statement, "_values", None) or {}
    return [table.c[key if isinstance(key, str) else key.key] for key in values]


@pytest.mark.parametrize("statements", [SQLITE_STATEMENTS, POSTGRESQL_STATEMENTS])
def test_every_hot_statement_uses_the_tables_columns(statements) -> None:
    tables = SQLModel.metadata.tables
    assert len(statements) >= 20
    for name, statement in statements.items():
        used = columns_of(statement)
        assert used, name
        for column in used:
            if column.table.name == "excluded":  # ON CONFLICT's row: the inserted table's columns
                assert column.key in statement.table.c, f"{name}: excluded.{column.key}"
                continue
            table = tables[column.table.name]
            assert table.c[column.key] is column, f"{name}: {column.table.name}.{column.key}"


def test_both_dialects_have_the_same_statements_and_parameters() -> None:
    assert SQLITE_SQL.keys() == POSTGRESQL_SQL.keys()
    for name in SQLITE_SQL:
        sqlite_names = set(re.findall(r"(?<!:):([a-z_]+)", SQLITE_SQL[name]))
        postgresql_names = set(re.findall(r"%\(([a-z_]+)\)s", POSTGRESQL_SQL[name]))
        assert sqlite_names == postgresql_names, name
    assert "FOR UPDATE" in POSTGRESQL_SQL["submission"]
    assert "FOR UPDATE" not in SQLITE_SQL["submission"]


def test_a_column_renamed_in_a_model_changes_the_statements() -> None:
    """The SQL is the tables': a statement names exactly the model's columns."""
    assert '"group"' in SQLITE_SQL["unit"]
    assert "ON CONFLICT (submission_id, question_key) DO UPDATE" in SQLITE_SQL["upsert_answer"]


def test_the_hot_paths_values_are_what_the_column_types_bind(database) -> None:
    """Timestamps and JSON go to the driver as the models' own column types would send them."""
    dialect = database.engine.dialect
    moment_type = Answer.__table__.c.updated_at.type
    json_type = Answer.__table__.c.value.type
    bind_moment = moment_type._cached_bind_processor(dialect)
    bind_json = json_type._cached_bind_processor(dialect)
    moments = [
        datetime(2022, 6, 20, 1, 0, tzinfo=UTC),
        datetime(2022, 7, 4, 23, 59, 59, 999, tzinfo=timezone(timedelta(hours=7))),
    ]
    documents = [{"value": 12}, {"parts": {"a": 1, "b": None}}, ["Đối thoại", 1.5]]
    with database.unit_of_work() as tx:
        for moment in moments:
            expected = (
                bind_moment(moment)
                if bind_moment
                else moment_type.process_bind_param(moment, dialect)
            )
            assert tx.moment(moment) == expected
            assert tx.read_moment(tx.moment(moment)) == moment
        for document in documents:
            expected = bind_json(document) if bind_json else document
            if isinstance(expected, str):
                assert tx.document(document) == expected
            else:  # psycopg adapts JSON itself; the text must read back the same
                assert tx.read_document(tx.document(document)) == document
