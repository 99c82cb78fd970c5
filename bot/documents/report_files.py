"""`baocao export --reports THƯ_MỤC|TỆP.zip`: every unit's signed report, and a draft for each
unit that sent none, for the Ban Dân vận to read and file.

Files are named `<code> - <unit name>.<ext>` (a unit's second file "… (2).<ext>"), drafts
`<code> - <unit name> (dự thảo).docx`, in the unit order of the consolidated biểu. The target is
checked first (as `--per-unit`); a zip is written to a temporary file and renamed, so a failure
never leaves half an archive.
"""

from __future__ import annotations

import io
import os
import re
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.documents.snapshot import Snapshot, load_snapshot
from bot.documents.word_reports import build_unit_draft
from bot.documents.workbooks import check_per_unit_target
from bot.output_files import ascii_name, replaced_atomically
from exports.consolidated import unit_tree
from exports.data import SignedFile, UnitReport
from storage.database import Database
from storage.signed_reports import SIGNED_FOLDER

_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def report_file_name(unit: UnitReport, extension: str, number: int = 1, *, draft=False) -> str:
    """ "HU-NP - Ban Thường vụ Huyện ủy Ninh Phước.pdf", safe on every file system."""
    base = _UNSAFE.sub(" ", f"{unit.code} - {unit.name}").strip(" .")
    if draft:
        base += " (dự thảo)"
    elif number > 1:
        base += f" ({number})"
    return f"{base}.{extension}"


def export_signed_reports(
    app, target: str | os.PathLike, *, campaign_code: str | None = None
) -> int:
    """The command; returns the exit code (1 when the target is unusable or a file is missing)."""
    problem = check_per_unit_target(target)
    if problem:
        print(f"baocao: {problem}", file=sys.stderr)
        return 1
    collected = collect_signed_reports(
        app.database, Path(app.settings.baocao_data_dir), app.clock(), campaign_code
    )
    path = Path(target)
    try:
        sent, drafts = _write(path, collected.entries())
    except OSError as error:
        print(f"baocao: không ghi được {path}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"Đã xuất {sent} tệp báo cáo có chữ ký và {drafts} dự thảo (đơn vị chưa gửi) vào {path}")
    if collected.missing:
        print("baocao: không tìm thấy tệp đã lưu: " + "; ".join(collected.missing), file=sys.stderr)
        return 1
    return 0


def signed_reports_zip_bytes(
    database: Database, data_dir: str | os.PathLike, *, now: datetime
) -> tuple[str, bytes]:
    """(file name, zip bytes): the same archive as `baocao export --reports TỆP.zip`."""
    collected = collect_signed_reports(database, Path(data_dir), now, None)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in collected.entries():
            archive.writestr(name, data)
    info = collected.loaded.info
    stamp = now.astimezone(info.zone).strftime("%Y%m%d-%H%M")
    code = ascii_name(info.code).upper()
    return f"{code}_bao-cao-co-chu-ky_{stamp}.zip", buffer.getvalue()


@dataclass
class CollectedReports:
    """Every unit's signed files (or its draft), read lazily in the biểu's unit order."""

    loaded: Snapshot
    data_dir: Path
    now: datetime
    missing: list[str] = field(default_factory=list)

    def entries(self) -> Iterator[tuple[str, bytes]]:
        tree = unit_tree(self.loaded.form, self.loaded.units)
        for unit in tree.ordered():
            files = self.loaded.signed.get(unit.code, [])
            for number, file in enumerate(files, start=1):
                data = read_stored_file(self.data_dir, file.path)
                if data is None:
                    self.missing.append(f"{unit.code}: {file.file_name}")
                    continue
                yield report_file_name(unit, _extension(file), number), data
            if not files:
                draft = build_unit_draft(self.loaded, unit, self.now, tree)
                yield report_file_name(unit, "docx", draft=True), draft


def collect_signed_reports(
    database: Database, data_dir: Path, now: datetime, campaign_code: str | None
) -> CollectedReports:
    snapshot = load_snapshot(database, campaign_code=campaign_code, signed=True, outline=True)
    return CollectedReports(snapshot, data_dir, now)


def read_stored_file(data_dir: str | os.PathLike, relative: str) -> bytes | None:
    """A stored signed report's bytes; None when missing or when the row points outside
    the data folder's `signed/` (such a path is never followed)."""
    folder = Path(data_dir).resolve() / SIGNED_FOLDER
    path = (Path(data_dir).resolve() / relative).resolve()
    if not relative.startswith(SIGNED_FOLDER + "/") or not path.is_relative_to(folder):
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None


def _write(path: Path, entries: Iterator[tuple[str, bytes]]):
    counts = {"sent": 0, "drafts": 0}

    def counted() -> Iterator[tuple[str, bytes]]:
        for name, data in entries:
            counts["drafts" if name.endswith("(dự thảo).docx") else "sent"] += 1
            yield name, data

    if path.suffix.lower() != ".zip":
        path.mkdir(parents=True, exist_ok=True)
        for name, data in counted():
            (path / name).write_bytes(data)
        return counts["sent"], counts["drafts"]
    with (
        replaced_atomically(path) as stream,
        zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        for name, data in counted():
            archive.writestr(name, data)
    return counts["sent"], counts["drafts"]


def _extension(file: SignedFile) -> str:
    return file.path.rsplit(".", 1)[1] if "." in file.path else "bin"
