"""Shared fixtures: a fresh database per test on real SQLite and real PostgreSQL, a fake clock,
and a service wired like the application's.

PostgreSQL tests use `TEST_DATABASE_URL` (a server where the user may create databases); each test
gets its own database, created and dropped around it. Without the variable they are skipped.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.app import CHANNEL_TRAITS
from bot.clock import FakeClock
from bot.service import Service
from bot.use_cases import Desk
from storage.database import normalize_url, open_database
from storage.repository import seed_if_empty

# 2022-06-20 08:00 in Vietnam: two weeks before the CT37 deadline.
CAMPAIGN_TIME = datetime(2022, 6, 20, 1, 0, tzinfo=UTC)


def postgres_admin_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    return normalize_url(url) if url else None


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(CAMPAIGN_TIME)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'baocao.db'}"


def _database_url(admin: str, name: str) -> str:
    return make_url(admin).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_template():
    """One migrated, empty database per test session; each test copies it (fast)."""
    admin = postgres_admin_url()
    if admin is None:
        pytest.skip("TEST_DATABASE_URL is not set")
    name = f"baocao_template_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    open_database(_database_url(admin, name)).dispose()
    yield engine, name
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_template):
    engine, template = postgres_template
    name = f"baocao_test_{uuid.uuid4().hex[:12]}"
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield _database_url(postgres_admin_url(), name)
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


@pytest.fixture
def database(database_url, clock):
    database = open_database(database_url)
    with database.transaction() as session:
        seed_if_empty(session, clock())
    yield database
    database.dispose()


@pytest.fixture
def service(database, clock) -> Service:
    desk = Desk(bot_usernames={"telegram": "baocao_test_bot"})
    return Service(database, clock, CHANNEL_TRAITS, desk)
