"""`baocao export --reports THƯ_MỤC|TỆP.zip`: every unit's signed report, and a draft for each
unit that sent none, for the Ban Dân vận to read and file.

Files are named `<code> - <unit name>.<ext>` (a unit's second file "… (2).<ext>"), drafts
`<code> - <unit name> (dự thảo).docx`, in the order of the "Tổng hợp" sheet. The target is
checked first (as `--per-unit`); a zip is written to a temporary file and renamed, so a failure
never leaves half an archive.
"""

from __future__ import annotations

import os
import re
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

from bot.exporting import check_per_unit_target
from bot.output_files import replaced_atomically
from bot.reporting import LoadedReport, build_unit_draft, load_for_report
from exports.consolidated import unit_tree
from exports.data import SignedFile, UnitReport, load_signed
from storage.repository import current_campaign, unit_by_code
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
    now = app.clock()
    with app.database.transaction() as session:
        loaded = load_for_report(session, campaign_code, None)
        signed = load_signed(session, current_campaign(session, campaign_code))
        parents = {
            unit.code: unit_by_code(session, unit.parent_code).name
            for unit in loaded.units
            if unit.parent_code
        }
    data_dir = Path(app.settings.baocao_data_dir)
    missing: list[str] = []

    def entries() -> Iterator[tuple[str, bytes]]:
        for unit in unit_tree(loaded.form, loaded.units).ordered():
            files = signed.get(unit.code, [])
            for number, file in enumerate(files, start=1):
                data = _read(data_dir, file)
                if data is None:
                    missing.append(f"{unit.code}: {file.file_name}")
                    continue
                yield report_file_name(unit, _extension(file), number), data
            if not files:
                draft = build_unit_draft(loaded, unit, parents.get(unit.code), now)
                yield report_file_name(unit, "docx", draft=True), draft

    path = Path(target)
    try:
        sent, drafts = _write(path, entries(), loaded)
    except OSError as error:
        print(f"baocao: không ghi được {path}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"Đã xuất {sent} tệp báo cáo có chữ ký và {drafts} dự thảo (đơn vị chưa gửi) vào {path}")
    if missing:
        print("baocao: không tìm thấy tệp đã lưu: " + "; ".join(missing), file=sys.stderr)
        return 1
    return 0


def _write(path: Path, entries: Iterator[tuple[str, bytes]], loaded: LoadedReport):
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


def _read(data_dir: Path, file: SignedFile) -> bytes | None:
    path = (data_dir / file.path).resolve()
    if not file.path.startswith(SIGNED_FOLDER + "/") or not path.is_relative_to(data_dir.resolve()):
        return None  # a row that points outside the data folder is never followed
    try:
        return path.read_bytes()
    except OSError:
        return None


def _extension(file: SignedFile) -> str:
    return file.path.rsplit(".", 1)[1] if "." in file.path else "bin"
