"""`baocao backup FILE` / `baocao restore FILE`: one tar.gz archive holding a consistent snapshot
of the database (every table as JSON lines, `storage.snapshot`) and every file under the data
folder (the signed reports), with a manifest: the schema revision, rows per table, and a SHA-256
for every member.

A backup is taken while `baocao run` keeps answering (the database is read in one snapshot, then
the files: signed report files are named by their checksum and never rewritten, so every row read
has its file). A restore checks everything before it writes anything: the archive's checksums, a
schema revision this code knows, an empty target (or `--force`, after saying what it replaces).
It brings the target's schema to the backup's revision, loads the rows, migrates to the code's
revision and writes the files back. The tables load into SQLite or PostgreSQL alike, so a backup
taken on one restores into the other.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from storage.schema import (
    alembic_config,
    current_revision,
    downgrade,
    has_user_tables,
    head_revision,
    known_revisions,
    upgrade,
)
from storage.snapshot import empty_tables, load_snapshot, read_snapshot, row_counts

FORMAT = "baocao-backup"
VERSION = 1
MANIFEST = "manifest.json"
TABLES = "database"
FILES = "files"


class BackupError(ValueError):
    """A backup or restore that cannot go on, as one Vietnamese line; nothing was changed."""


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    revision: str | None
    rows: int
    tables: int
    files: int


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _add(archive: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o600
    archive.addfile(info, io.BytesIO(data))


def write_backup(engine: Engine, data_dir: Path, target: Path, now: datetime) -> BackupSummary:
    """Write the archive to `target` (through a temporary file beside it, renamed at the end)."""
    target = Path(target)
    if target.is_dir():
        raise BackupError(f"{target} là một thư mục; hãy ghi tên tệp, ví dụ {target}/baocao.tar.gz")
    if not target.parent.is_dir():
        raise BackupError(f"không có thư mục {target.parent}")
    partial = target.with_name(f".{target.name}.partial")
    stamp = now.timestamp()
    manifest: dict = {
        "format": FORMAT,
        "version": VERSION,
        "created_at": now.isoformat(),
        "database": engine.dialect.name,
        "tables": {},
        "files": {},
    }
    try:
        with tarfile.open(partial, "w:gz") as archive:

            def write_table(name: str, lines: Iterator[str]) -> int:
                count, buffer = 0, io.BytesIO()
                for line in lines:
                    buffer.write(line.encode("utf-8") + b"\n")
                    count += 1
                data = buffer.getvalue()
                _add(archive, f"{TABLES}/{name}.jsonl", data, stamp)
                manifest["tables"][name] = {"rows": count, "sha256": _sha256(data)}
                return count

            revision, counts = read_snapshot(engine, write_table)
            manifest["schema_revision"] = revision
            for path in sorted(_data_files(data_dir)):
                relative = path.relative_to(data_dir).as_posix()
                data = path.read_bytes()
                _add(archive, f"{FILES}/{relative}", data, path.stat().st_mtime)
                manifest["files"][relative] = {"size": len(data), "sha256": _sha256(data)}
            body = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True)
            _add(archive, MANIFEST, body.encode("utf-8"), stamp)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupSummary(
        target, revision, sum(counts.values()), len(counts), len(manifest["files"])
    )


def _data_files(data_dir: Path) -> Iterator[Path]:
    if not data_dir.is_dir():
        return
    for path in data_dir.rglob("*"):
        if path.is_file() and not path.is_symlink() and not path.name.endswith(".partial"):
            yield path


# --- restore --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unpacked:
    folder: Path
    manifest: dict

    def table_lines(self, name: str) -> list[str] | None:
        if name not in self.manifest["tables"]:
            return None
        return (self.folder / TABLES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()


def unpack(archive_path: Path, into: Path) -> Unpacked:
    """Extract the archive's regular files into `into` and verify them against the manifest."""
    archive_path = Path(archive_path)
    if not archive_path.is_file():
        raise BackupError(f"không có tệp sao lưu {archive_path}")
    try:
        with tarfile.open(archive_path, "r:*") as archive:
            for member in archive:
                name = PurePosixPath(member.name)
                if not member.isfile() or name.is_absolute() or ".." in name.parts:
                    raise BackupError(f"tệp sao lưu có mục không hợp lệ: {member.name!r}")
                destination = into.joinpath(*name.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.extractfile(member) as source, destination.open("wb") as out:
                    shutil.copyfileobj(source, out)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise BackupError(f"không đọc được tệp sao lưu {archive_path}: {error}") from None
    try:
        manifest = json.loads((into / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BackupError(
            f"{archive_path} không phải tệp sao lưu của baocao (thiếu manifest)"
        ) from None
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise BackupError(f"{archive_path} không phải tệp sao lưu baocao phiên bản {VERSION}")
    expected = {
        f"{TABLES}/{name}.jsonl": entry["sha256"] for name, entry in manifest["tables"].items()
    }
    expected |= {f"{FILES}/{name}": entry["sha256"] for name, entry in manifest["files"].items()}
    present = {path.relative_to(into).as_posix() for path in into.rglob("*") if path.is_file()} - {
        MANIFEST
    }
    if present != set(expected):
        odd = sorted(present ^ set(expected))[:3]
        raise BackupError(f"tệp sao lưu không khớp manifest (thiếu hoặc thừa: {', '.join(odd)})")
    for name, checksum in expected.items():
        if _sha256((into / name).read_bytes()) != checksum:
            raise BackupError(f"tệp sao lưu bị hỏng: {name} sai mã kiểm tra SHA-256")
    return Unpacked(into, manifest)


def occupied(engine: Engine, data_dir: Path) -> list[str]:
    """What a restore would overwrite: tables with rows, files in the data folder."""
    found = []
    files = sum(1 for _ in _data_files(data_dir))
    if files:
        found.append(f"thư mục dữ liệu {data_dir}: {files} tệp")
    if has_user_tables(engine):
        found += [
            f"bảng {name}: {count} dòng" for name, count in row_counts(engine).items() if count
        ]
    return found


def restore_backup(engine: Engine, data_dir: Path, archive_path: Path, *, force: bool) -> dict:
    """Restore the archive; returns its manifest. Raises `BackupError` before changing anything
    when the archive is bad, too new, or the target holds data and `force` is not given."""
    with tempfile.TemporaryDirectory(prefix="baocao-restore-") as folder:
        unpacked = unpack(archive_path, Path(folder))
        manifest = unpacked.manifest
        revision = manifest.get("schema_revision")
        if revision is not None and revision not in known_revisions():
            raise BackupError(
                f"bản sao lưu ở phiên bản lược đồ {revision}, mới hơn mã chương trình "
                f"({head_revision()}): hãy cài bản baocao mới hơn để khôi phục"
            )
        existing = occupied(engine, data_dir)
        if existing and not force:
            raise BackupError(
                "nơi khôi phục đã có dữ liệu, chưa ghi gì: "
                + "; ".join(existing[:8])
                + (f"; và {len(existing) - 8} bảng khác" if len(existing) > 8 else "")
                + ". Thêm --force để xóa và ghi đè bằng bản sao lưu."
            )
        if existing:
            empty_tables(engine)
        _schema_at(engine, revision)
        counts = load_snapshot(engine, unpacked.table_lines)
        for name, entry in manifest["tables"].items():
            if counts.get(name, 0) != entry["rows"]:
                raise BackupError(
                    f"bảng {name} không khôi phục được đủ "
                    f"({counts.get(name, 0)}/{entry['rows']} dòng)"
                )
        upgrade(engine)
        for name in manifest["files"]:
            destination = data_dir.joinpath(*PurePosixPath(name).parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(folder, FILES, *PurePosixPath(name).parts), destination)
    return manifest


def _schema_at(engine: Engine, revision: str | None) -> None:
    """Bring the (empty) target's schema to the backup's revision."""
    if revision is None:
        return
    with engine.connect() as connection:
        current = current_revision(connection)
    if current == revision:
        return
    if current is None:
        upgrade(engine, revision)
        return
    script = ScriptDirectory.from_config(alembic_config())
    ancestors = {step.revision for step in script.iterate_revisions(current, "base")}
    if revision in ancestors:
        downgrade(engine, revision)
    else:
        upgrade(engine, revision)
