"""`baocao backup` / `baocao restore` through the command line, on real SQLite and PostgreSQL:
a backup taken on either restores into a new SQLite file and into a new PostgreSQL database,
after which `baocao status --json`, the consolidated workbook and every signed report file are
byte-for-byte what they were; a restore refuses a database that holds data (and changes
nothing) unless `--force`, refuses a backup from a newer schema and one whose checksums do not
match.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import uuid
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import bot.cli.commands as cli
from bot.app import CHANNEL_TRAITS, build_app
from bot.documents.workbooks import export_bytes
from bot.service import Service
from bot.use_cases import Desk
from storage.database import open_database
from storage.snapshot import row_counts
from tests.conftest import postgres_admin_url
from tests.exports.conftest import NOW
from tests.exports.test_signed_exports import JPEG, PDF, send_back
from tests.test_service import link

TARGETS = ["sqlite", "postgresql"]


@contextmanager
def fresh_database(kind: str, folder: Path):
    """A database with nothing in it, not even tables."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'restored-{uuid.uuid4().hex[:6]}.db'}"
        return
    admin = postgres_admin_url()
    if admin is None:
        pytest.skip("TEST_DATABASE_URL is not set")
    name = f"baocao_restore_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture
def baocao(monkeypatch, capsys, clock):
    """Run the `baocao` command against a database URL and data folder; (exit code, out, err)."""
    monkeypatch.setattr(cli, "build_app", lambda settings: build_app(settings, clock=clock))

    def run(url: str, data_dir: Path, *argv: str) -> tuple[int, str, str]:
        monkeypatch.setenv("BAOCAO_DATABASE_URL", url)
        monkeypatch.setenv("BAOCAO_DATA_DIR", str(data_dir))
        capsys.readouterr()
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def populate(service, database, clock, data_dir: Path) -> None:
    """An officer answers with a note and submits, a secretary is linked, two files come back."""
    link(service, database, clock, "thu", role="secretariat")
    officer = link(service, database, clock, "anh")
    officer.send("Xong")
    officer.send("kad")
    officer.send("5 ghi chú: gồm cả đoàn liên ngành")
    officer.send("nộp")
    officer.send("có")
    send_back(database, data_dir, "HU-NP", "Báo cáo NP.pdf", PDF)
    send_back(database, data_dir, "DU-PHUOCDAN", "trang 1.jpg", JPEG)


def what_people_see(baocao, url: str, data_dir: Path) -> dict:
    code, status, _ = baocao(url, data_dir, "status", "--json")
    assert code == 0
    database = open_database(url)
    try:
        _, workbook = export_bytes(database, now=NOW)
        _, unit_sheet = export_bytes(database, unit_code="HU-NP", now=NOW)
    finally:
        database.dispose()
    files = {
        path.relative_to(data_dir).as_posix(): path.read_bytes()
        for path in sorted(data_dir.rglob("*"))
        if path.is_file()
    }
    return {
        "status": status,
        "workbook": workbook_content(workbook),
        "unit": workbook_content(unit_sheet),
        "files": files,
    }


def workbook_content(data: bytes) -> dict[str, bytes]:
    """Every part of the workbook, byte for byte, but the moment openpyxl writes it at (the zip
    entries' times, `dcterms:created` and `modified`: the machine's clock, not the data's)."""
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        parts = {name: book.read(name) for name in book.namelist()}
    parts["docProps/core.xml"] = re.sub(
        rb"<dcterms:(modified|created)[^>]*>[^<]*</dcterms:(modified|created)>",
        b"",
        parts["docProps/core.xml"],
    )
    return parts


@pytest.mark.parametrize("target", TARGETS)
def test_a_backup_restores_byte_for_byte_into_either_database(
    service, database, database_url, clock, tmp_path, baocao, target
):
    source_data = tmp_path / "data"
    populate(service, database, clock, source_data)
    before = what_people_see(baocao, database_url, source_data)
    assert len(before["files"]) == 2 and json.loads(before["status"])[0]["submitted"]

    archive = tmp_path / "baocao.tar.gz"
    code, out, err = baocao(database_url, source_data, "backup", str(archive))
    assert (code, err) == (0, "")
    assert out.startswith(f"Đã sao lưu vào {archive}: lược đồ ")
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["tables"]["answer"]["rows"] == 3
    assert manifest["tables"]["signed_report"]["rows"] == 2
    assert len(manifest["files"]) == 2

    with fresh_database(target, tmp_path) as url:
        restored_data = tmp_path / "restored-data"
        code, out, err = baocao(url, restored_data, "restore", str(archive))
        assert (code, err) == (0, "")
        assert out.startswith("Đã khôi phục bản sao lưu lúc ")
        assert what_people_see(baocao, url, restored_data) == before
        # New rows get new ids after the restored ones (PostgreSQL's sequences were moved on).
        restored = open_database(url)
        try:
            again = Service(restored, clock, CHANNEL_TRAITS, Desk())
            link(again, restored, clock, "mới", unit_code="DU-PHUOCDAN")
            contacts = manifest["tables"]["contact"]["rows"]
            assert row_counts(restored.engine)["contact"] == contacts + 1
        finally:
            restored.dispose()


def test_a_restore_refuses_a_database_with_data_and_changes_nothing(
    service, database, database_url, clock, tmp_path, baocao
):
    data_dir = tmp_path / "data"
    populate(service, database, clock, data_dir)
    archive = tmp_path / "b.tar.gz"
    assert baocao(database_url, data_dir, "backup", str(archive))[0] == 0
    link(service, database, clock, "sau", unit_code="DU-PHUOCDAN")  # a change after the backup
    counts = row_counts(database.engine)

    code, out, err = baocao(database_url, data_dir, "restore", str(archive))
    assert (code, out) == (1, "")
    assert err.startswith(
        f"baocao: nơi khôi phục đã có dữ liệu, chưa ghi gì: thư mục dữ liệu {data_dir}: 2 tệp; "
        "bảng campaign: 1 dòng; "
    )
    assert err.endswith("bảng khác. Thêm --force để xóa và ghi đè bằng bản sao lưu.\n")
    assert row_counts(database.engine) == counts

    code, _, err = baocao(database_url, data_dir, "restore", "--force", str(archive))
    assert (code, err) == (0, "")
    after = row_counts(database.engine)
    assert after["contact"] == counts["contact"] - 1  # back to the moment of the backup


def rewrite(archive: Path, change) -> None:
    """Rewrite the archive's members through `change(name, data) -> data`."""
    with tarfile.open(archive) as tar:
        members = [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in members:
            data = change(name, data)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_a_restore_refuses_a_newer_schema_and_a_damaged_archive(
    service, database, database_url, clock, tmp_path, baocao
):
    data_dir = tmp_path / "data"
    populate(service, database, clock, data_dir)
    archive = tmp_path / "b.tar.gz"
    assert baocao(database_url, data_dir, "backup", str(archive))[0] == 0
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(archive.read_bytes())
    rewrite(
        damaged,
        lambda name, data: data.replace("đoàn".encode(), b"doan") if "answer" in name else data,
    )
    newer = tmp_path / "newer.tar.gz"
    newer.write_bytes(archive.read_bytes())

    def bump(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["schema_revision"] = "9999"
        return json.dumps(manifest).encode()

    rewrite(newer, bump)
    with fresh_database("sqlite", tmp_path) as url:
        code, _, err = baocao(url, tmp_path / "empty", "restore", str(damaged))
        assert code == 1
        assert "sai mã kiểm tra SHA-256" in err
        code, _, err = baocao(url, tmp_path / "empty", "restore", str(newer))
        assert code == 1
        assert "bản sao lưu ở phiên bản lược đồ 9999, mới hơn mã chương trình" in err
        code, _, err = baocao(url, tmp_path / "empty", "restore", str(tmp_path / "none.tar.gz"))
        assert (code, err.strip()) == (1, f"baocao: không có tệp sao lưu {tmp_path}/none.tar.gz")
        assert not (tmp_path / "empty").exists()
