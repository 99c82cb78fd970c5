"""Connecting to the database (SQLite by default, PostgreSQL by URL) and keeping its schema current.

`open_database(url)` returns a `Database`: `transaction()` gives an ORM session in one transaction,
`write_transaction()` the same for a state change (taking SQLite's write lock first),
`unit_of_work()` one transaction for the per-message hot path (plain SQL, with an ORM session beside
it on demand). The schema is upgraded with Alembic on open, so an empty or an old database is
brought to the current version before anything reads it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Session

from storage.hot_path import Tx

MIGRATIONS = Path(__file__).parent / "migrations"
DEFAULT_URL = "sqlite:///baocao.db"
BUSY_TIMEOUT_MS = 30_000
# Threads (the event loop's) on which a SQLite lock held elsewhere fails at once instead of
# waiting up to BUSY_TIMEOUT_MS (`without_waiting`).
_impatient = threading.local()


class DatabaseUrlError(ValueError):
    """A database URL that cannot be used, with a one-line reason."""


def normalize_url(url: str) -> str:
    """Accept the URLs operators write and map them to the drivers baocao ships.

    `postgresql://` and `postgresql+asyncpg://` use psycopg 3; `sqlite+aiosqlite://` plain sqlite.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError(f"BAOCAO_DATABASE_URL không hợp lệ: {url!r}") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend == "sqlite":
        parsed = parsed.set(drivername="sqlite")
    else:
        raise DatabaseUrlError(f"chỉ hỗ trợ SQLite và PostgreSQL, không hỗ trợ '{backend}'")
    return parsed.render_as_string(hide_password=False)


@dataclass
class Database:
    engine: Engine

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def unit_of_work(self) -> Iterator[Tx]:
        """One transaction for the per-message hot path: plain SQL on the driver connection
        (`storage.hot_path`), with an ORM session on the same connection when one is needed."""
        with self.engine.connect() as connection:
            connection.begin()
            tx = Tx(connection)
            if tx.is_sqlite:
                # The driver would begin only at the first write, so a savepoint taken before it
                # would be the outermost one, and releasing it would commit. Every unit of work
                # writes (the inbound id first), so take the write lock now.
                tx.driver.execute("BEGIN IMMEDIATE")
            try:
                yield tx
                tx.flush()
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
            finally:
                tx.close()

    @contextmanager
    def write_transaction(self) -> Iterator[Session]:
        """One unit of work that changes state, as an ORM session: on SQLite it takes the write
        lock when it begins (BEGIN IMMEDIATE), so its reads and its conditional writes see one
        state and two such transactions never interleave; on PostgreSQL a plain transaction
        (the conditional UPDATE's row lock decides)."""
        with self.unit_of_work() as tx:
            yield tx.session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str = DEFAULT_URL, *, upgrade: bool = True) -> Database:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "checkout", _sqlite_patience)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    database = Database(engine)
    if upgrade:
        upgrade_schema(database)
    return database


@contextmanager
def without_waiting() -> Iterator[None]:
    """On this thread, a SQLite write lock held by another connection fails at once
    (`is_locked`) instead of waiting up to BUSY_TIMEOUT_MS: for database work run on the event
    loop, which then hands the work to a thread. Nothing changes on PostgreSQL."""
    previous = getattr(_impatient, "on", False)
    _impatient.on = True
    try:
        yield
    finally:
        _impatient.on = previous


def is_locked(error: BaseException) -> bool:
    """SQLite's «database is locked» (from SQLAlchemy or from the driver used directly by the
    hot path): another connection holds the write lock."""
    if isinstance(error, OperationalError):
        error = error.orig
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


def _sqlite_patience(dbapi_connection, record, _proxy) -> None:
    wanted = 0 if getattr(_impatient, "on", False) else BUSY_TIMEOUT_MS
    if record.info.get("busy_timeout") != wanted:
        dbapi_connection.execute(f"PRAGMA busy_timeout={wanted}")
        record.info["busy_timeout"] = wanted


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()
    _record.info["busy_timeout"] = BUSY_TIMEOUT_MS


def alembic_config() -> Config:
    from storage.schema import alembic_config as config

    return config()


def upgrade_schema(database: Database) -> None:
    """Migrate to the code's revision, one process at a time (`storage.schema.upgrade`)."""
    from storage.schema import upgrade

    upgrade(database.engine)
