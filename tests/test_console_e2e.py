"""End-to-end: `python -m bot.cli chat --unit HU-NP` in a real subprocess, fed on stdin.

A district officer fills the whole Phụ lục in the terminal (with some wrong answers on the way),
reviews and submits; the stored answers are then read back from the SQLite file. Ctrl-D (end of
input) in the middle of the form and a second run resume at the same question.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import select

from storage.database import open_database
from storage.models import Answer, Submission, Unit

ROOT = Path(__file__).resolve().parents[1]

# (what the officer types, in order) -> what must be stored, by question key.
SESSION = [
    # 1. documents, one per line, then «Xong»
    "12-KH/HU, ngày 05/6/2017, Kế hoạch triển khai Chỉ thị 37-CT/TU",
    "20-NQ/HU, ngày 10/8/2017, Nghị quyết chuyên đề",
    "Xong",
    # 2.
    "1520/QĐ-UBND, ngày 20/7/2017, Quyết định ban hành kế hoạch",
    "xong",
    # 3. a word first, then the number
    "nhiều lắm",
    "4",
    # 4. negative first
    "-2",
    "12 đơn vị",
    # 5.-7. with the rule l4 <= l34 broken once, then over 100% first
    "30",
    "40",
    "25",
    "120%",
    "92%",
    # 8.-9. pairs
    "12/345",
    "3 lượt / 40 lượt người",
    # 10.-13.
    "2",
    "2",
    "5",
    "6",
    # 14.-16. ratios, one resolved > total first
    "50/45",
    "45/50",
    "3 trên 4",
    "1/2",
    # 17.-18.
    "7",
    "2",
    # review and submit
    "xem",
    "nộp",
    "có",
]
EXPECTED = {
    "docs_state": None,  # checked apart (document items)
    "docs_party": None,
    "inspection_teams": ({"value": 4}, False),
    "inspected_units": ({"value": 12}, False),
    "online_services_l34": ({"value": 30}, False),
    "online_services_l4": ({"value": 25}, False),
    "satisfaction_pct": ({"value": 92.0}, False),
    "reception_local_regular": ({"times": 12, "people": 345}, False),
    "reception_local_adhoc": ({"times": 3, "people": 40}, False),
    "dialogue_district_party": ({"value": 2}, False),
    "dialogue_district_gov": ({"value": 2}, False),
    "dialogue_commune_party": ({"value": 5}, False),
    "dialogue_commune_gov": ({"value": 6}, False),
    "complaints": ({"done": 45, "total": 50}, False),
    "denunciations": ({"done": 3, "total": 4}, False),
    "complex_cases": ({"done": 1, "total": 2}, False),
    "supervisions": ({"value": 7}, False),
    "criticism_conferences": ({"value": 2}, False),
}


def chat(tmp_path: Path, lines: list[str]) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BAOCAO_", "TELEGRAM_", "ZALO_"))
    }
    env.update(
        BAOCAO_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
        PYTHONPATH=str(ROOT),
        PYTHONIOENCODING="utf-8",
        BAOCAO_SCHEDULER="false",
    )
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--unit", "HU-NP"],
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=tmp_path,
        env=env,
        timeout=120,
    )


def stored(tmp_path: Path) -> tuple[str, dict[str, Answer]]:
    database = open_database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with database.transaction() as session:
            unit = session.exec(select(Unit).where(Unit.code == "HU-NP")).one()
            submission = session.exec(select(Submission).where(Submission.unit_id == unit.id)).one()
            rows = session.exec(select(Answer).where(Answer.submission_id == submission.id)).all()
            return submission.status, {row.question_key: row for row in rows}
    finally:
        database.dispose()


def test_fill_review_and_submit_in_the_console(tmp_path):
    result = chat(tmp_path, SESSION)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert "Câu 1/18 — Mục 1" in out
    assert "Câu 18/18 — Mục 5" in out
    # Each bad answer was refused with its reason.
    assert "Chưa ghi được: Chưa thấy số nào trong câu trả lời." in out
    assert "Chưa ghi được: Số không được âm." in out
    assert "Chưa ghi được: Tỷ lệ không được vượt quá 100%." in out
    assert "Số dịch vụ mức độ 4 không được lớn hơn tổng số dịch vụ mức độ 3, 4" in out
    assert "Số đã giải quyết (50) không được lớn hơn tổng số (45)." in out
    # Choices are shown as keywords or numbered lines.
    assert "Gõ: xong · kad (không áp dụng) · bỏ qua · tạm dừng · xem" in out
    assert "1. Đồng ý nộp\n2. Chưa nộp" in out
    assert "Đã trả lời 18/18 câu." in out
    assert "14. Khiếu nại: 45/50 đơn, đạt 90%" in out
    assert "Đã nộp báo cáo của Ban Thường vụ Huyện ủy Ninh Phước lúc" in out

    status, answers = stored(tmp_path)
    assert status == "submitted"
    assert set(answers) == set(EXPECTED)
    for key, expected in EXPECTED.items():
        if expected is not None:
            assert (answers[key].value, answers[key].not_applicable) == expected, key
            assert answers[key].channel == "console"
    party = answers["docs_party"].value["items"]
    assert [(d["number"], d["date"]) for d in party] == [
        ("12-KH/HU", "2017-06-05"),
        ("20-NQ/HU", "2017-08-10"),
    ]
    assert [d["number"] for d in answers["docs_state"].value["items"]] == ["1520/QĐ-UBND"]


def test_end_of_input_mid_form_then_a_second_run_resumes(tmp_path):
    first = chat(tmp_path, ["Xong", "kad", "4"])
    assert first.returncode == 0, first.stderr
    assert "Đã lưu mọi câu trả lời. Chạy lại lệnh để làm tiếp." in first.stdout
    assert "Traceback" not in first.stderr
    status, answers = stored(tmp_path)
    assert status == "in_progress"
    assert set(answers) == {"docs_party", "docs_state", "inspection_teams"}

    second = chat(tmp_path, ["9"])
    assert second.returncode == 0, second.stderr
    first_question = second.stdout.split("Câu ", 1)[1]
    assert first_question.startswith("4/18 — Mục 2")
    assert "Câu 1/18" not in second.stdout
    _, answers = stored(tmp_path)
    assert answers["inspected_units"].value == {"value": 9}
    assert answers["inspection_teams"].value == {"value": 4}


def test_replies_printed_on_the_terminal_are_recorded_as_sent(service, database, clock):
    from bot.messaging import Inbound
    from bot.use_cases import mark_printed
    from storage.models import OutboxMessage

    rows = service.handle(Inbound("console", "local", "local", "c1", text="xin chào"))
    with database.unit_of_work() as tx:
        mark_printed(tx, rows, clock())
    with database.transaction() as session:
        stored = [session.get(OutboxMessage, row.id) for row in rows]
        assert [(s.status, s.attempts, s.sent_at) for s in stored] == [("sent", 1, clock())]
