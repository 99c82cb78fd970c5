"""The database schema's revision against the code's, and upgrading it one process at a time.

`baocao run` must not start on a database whose schema is older (or newer) than the code: an
operator runs `baocao db upgrade`, which takes a lock first (PostgreSQL: an advisory lock held by
the migrating transaction; SQLite: an exclusive lock on a file beside the database), so two
processes started at once cannot both migrate. A fresh, empty database is still migrated
automatically, so the first command on a new machine just works.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

# Any fixed 64-bit number: the advisory lock every baocao process takes to migrate.
MIGRATION_LOCK_KEY = 0x6261_6F63_616F_0001
VERSION_TABLE = "alembic_version"
MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaError(ValueError):
    """The schema does not fit the code, as one Vietnamese line saying what to do."""


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # None: no schema at all (an empty database)
    head: str
    newer: bool  # the database was migrated by a newer baocao than this one

    @property
    def is_current(self) -> bool:
        return self.current == self.head

    @property
    def describe(self) -> str:
        return self.current or "chưa có (cơ sở dữ liệu trống)"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def known_revisions() -> set[str]:
    return {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def schema_state(engine: Engine) -> SchemaState:
    with engine.connect() as connection:
        current = current_revision(connection)
    return SchemaState(
        current, head_revision(), current is not None and current not in known_revisions()
    )


def has_user_tables(engine: Engine) -> bool:
    names = set(inspect(engine).get_table_names()) - {VERSION_TABLE}
    return bool(names)


def require_current(engine: Engine) -> SchemaState:
    """For `baocao run`: migrate an empty database; refuse one that is older or newer."""
    state = schema_state(engine)
    if state.current is None and not has_user_tables(engine):
        upgrade(engine)
        return schema_state(engine)
    if state.newer:
        raise SchemaError(
            f"cơ sở dữ liệu ở phiên bản lược đồ {state.current}, mới hơn mã chương trình "
            f"({state.head}): hãy cài bản baocao mới hơn"
        )
    if not state.is_current:
        raise SchemaError(
            f"cơ sở dữ liệu ở phiên bản lược đồ {state.describe}, cũ hơn mã chương trình "
            f"({state.head}). Hãy sao lưu (baocao backup TỆP) rồi chạy: baocao db upgrade"
        )
    return state


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to `revision` while holding the migration lock; a second process waits for the
    lock, then finds the work done."""
    config = alembic_config()
    with migration_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _signed(MIGRATION_LOCK_KEY)}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Bring an empty database's schema down to `revision` (a restore of an older backup)."""
    config = alembic_config()
    with migration_lock(engine), engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """SQLite: an exclusive lock on `<database file>.migrate-lock` for the whole migration
    (PostgreSQL takes its advisory lock inside the migrating transaction)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    path = Path(database).with_name(Path(database).name + ".migrate-lock")
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _signed(key: int) -> int:
    return key - (1 << 64) if key >= 1 << 63 else key
