"""A crash mid-upload leaves a temporary file in the data folder; the daily upkeep removes it
once it is a day old, and leaves alone an upload another process may still be receiving."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from storage.staging import TMP_FOLDER, Stager, sweep_abandoned

NOW = datetime(2022, 7, 4, 9, 0, tzinfo=UTC)


def aged(path, age: timedelta) -> None:
    moment = (NOW - age).timestamp()
    os.utime(path, (moment, moment))


def test_only_uploads_older_than_a_day_are_swept(tmp_path):
    cut_off = Stager(tmp_path, max_bytes=100)
    cut_off.write(b"%PDF-1.7 half a file")
    still_arriving = Stager(tmp_path, max_bytes=100)
    still_arriving.write(b"%PDF-1.7 arriving")
    kept_signed_report = tmp_path / TMP_FOLDER / "not-an-upload.pdf"
    kept_signed_report.write_bytes(b"%PDF")
    aged(cut_off.path, timedelta(days=1, minutes=1))
    aged(still_arriving.path, timedelta(minutes=5))
    aged(kept_signed_report, timedelta(days=30))

    assert sweep_abandoned(tmp_path, NOW) == 1

    assert not cut_off.path.exists()
    assert still_arriving.path.exists() and kept_signed_report.exists()
    still_arriving.write(b" and the rest")
    assert still_arriving.finish().size == len(b"%PDF-1.7 arriving and the rest")


def test_a_data_folder_without_uploads_is_fine(tmp_path):
    assert sweep_abandoned(tmp_path / "never-used", NOW) == 0
