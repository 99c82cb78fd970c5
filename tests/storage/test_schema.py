"""The schema against the code, on real SQLite and PostgreSQL: `baocao run` refuses a database
whose schema is older than the code and says to run `baocao db upgrade`; `db current` shows the
revision; `db upgrade` brings it to the code's; a fresh empty database is still migrated by any
command; two upgrades at once both finish with one migration.
"""

from __future__ import annotations

import threading

import pytest

import bot.cli.commands as cli
from storage.database import open_database
from storage.schema import head_revision, schema_state, upgrade

OLD = "0008"


@pytest.fixture
def baocao(monkeypatch, capsys):
    def run(url: str, *argv: str) -> tuple[int, str, str]:
        monkeypatch.setenv("BAOCAO_DATABASE_URL", url)
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456789:AAH-fake-token-for-tests_0123456789")
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:9")
        capsys.readouterr()
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def old_database(database_url):
    """A database migrated only to an older revision than the code's."""
    database = open_database(database_url, upgrade=False)
    if schema_state(database.engine).current is not None:  # PostgreSQL's template is at head
        from storage.schema import downgrade

        downgrade(database.engine, OLD)
    else:
        upgrade(database.engine, OLD)
    yield database
    database.dispose()


def test_run_refuses_an_older_schema_and_db_upgrade_brings_it_to_the_code(
    old_database, database_url, baocao
):
    head = head_revision()
    code, out, err = baocao(database_url, "run")
    assert (code, out) == (1, "")
    assert err == (
        f"baocao: cơ sở dữ liệu ở phiên bản lược đồ {OLD}, cũ hơn mã chương trình ({head}). "
        "Hãy sao lưu (baocao backup TỆP) rồi chạy: baocao db upgrade\n"
    )
    assert schema_state(old_database.engine).current == OLD  # nothing was migrated

    code, out, _ = baocao(database_url, "db", "current")
    assert (code, out) == (
        1,
        f"Lược đồ cơ sở dữ liệu: {OLD}\nMã chương trình cần: {head}\nCần nâng: baocao db upgrade\n",
    )
    code, out, _ = baocao(database_url, "db", "upgrade")
    assert (code, out) == (0, f"Đã nâng lược đồ từ {OLD} lên {head}.\n")
    code, out, _ = baocao(database_url, "db", "current")
    assert (code, out) == (0, f"Lược đồ cơ sở dữ liệu: {head}\nMã chương trình cần: {head}\n")
    code, out, _ = baocao(database_url, "db", "upgrade")
    assert (code, out) == (0, f"Lược đồ đã ở phiên bản {head}, không cần nâng.\n")


def test_a_fresh_database_is_still_migrated_by_any_command(tmp_path, baocao):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    code, out, _ = baocao(url, "units", "list", "--json")
    assert code == 0 and '"code": "HU-NP"' in out
    database = open_database(url, upgrade=False)
    try:
        assert schema_state(database.engine).is_current
    finally:
        database.dispose()


def test_two_upgrades_at_once_migrate_once(old_database):
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            upgrade(old_database.engine)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=migrate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert schema_state(old_database.engine).is_current
