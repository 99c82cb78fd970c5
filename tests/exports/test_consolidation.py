"""The consolidation rules, end to end and in the unit tree alone.

The hand-computed example goes through the real storage (SQLite) and the real workbook: a district
(HU-NP) with two communes, a department, a unit still filling in, a returned unit and a unit of
the other group. Every total cell of the figures used is worked out by hand below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from bot.deadlines import campaign_deadlines
from bot.documents.workbooks import export_bytes
from bot.status import status_text
from conversations.labels import GROUP_ORDER
from exports.consolidation import (
    Deadlines,
    UnitTree,
    counts,
    late,
    status_counts,
    status_summary,
)
from storage.progress import campaign_progress
from storage.repository import UnitRow, current_campaign
from tests.exports.conftest import (
    NOW,
    Summary,
    find_row,
    open_workbook,
    summary_columns,
    table_rows,
    unit_row,
)

FIGURES = {
    # HU-NP, a district: submitted. Its report covers its communes.
    "HU-NP": {
        "inspection_teams": {"value": 5},
        "dialogue_commune_party": {"value": 7},
        "complaints": {"done": 45, "total": 50},
        "satisfaction_pct": {"value": 80},
        "reception_local_regular": {"times": 3, "people": 30},
    },
    # its two communes: submitted, listed beneath it, never added again
    "DU-PHUOCDAN": {
        "inspection_teams": {"value": 2},
        "dialogue_commune_party": {"value": 9},  # the planted mismatch: 9 + 1 > 7
        "complaints": {"done": 5, "total": 6},
    },
    "DU-PHUOCHAU": {"inspection_teams": {"value": 1}, "dialogue_commune_party": {"value": 1}},
    # a department: submitted
    "DU-STNMT": {
        "inspection_teams": {"value": 4},
        "complaints": {"done": 10, "total": 10},
        "reception_local_regular": {"times": 2, "people": 20},
    },
    # still filling in: in no sum
    "CB-TTT": {
        "inspection_teams": {"value": 100},
        "complaints": {"done": 100, "total": 100},
        "satisfaction_pct": {"value": 10},
    },
    # returned to the unit: in no sum
    "HU-NH": {"inspection_teams": {"value": 50}, "dialogue_commune_party": {"value": 50}},
    # the other group: submitted
    "HU-BACAI": {
        "inspection_teams": {"value": 3},
        "complaints": {"done": 0, "total": 0},
        "satisfaction_pct": {"value": 60},
    },
}
SUBMITTED = ("HU-NP", "DU-PHUOCDAN", "DU-PHUOCHAU", "DU-STNMT", "HU-BACAI")


@pytest.fixture
def example(store):
    store.add_units(
        UnitRow("DU-PHUOCHAU", "Đảng ủy xã Phước Hậu", "xa", "HU-NP", "kiem_tra_truc_tiep")
    )
    for code, answers in FIGURES.items():
        store.answers(code, answers)
    for code in SUBMITTED:
        store.submit(code)
    store.set_status("HU-NH", "returned")
    _, data = export_bytes(store.database, now=NOW)
    return open_workbook(data)


def totals(ws):
    _, columns = summary_columns(ws)
    rows = {
        "direct": find_row(ws, 2, "Cộng Kiểm tra trực tiếp"),
        "self": find_row(ws, 2, "Cộng Tự kiểm tra"),
        "province": find_row(ws, 2, "Toàn tỉnh"),
    }
    return columns, rows


def test_every_total_cell_of_the_hand_computed_example(example):
    ws = Summary(example)
    columns, rows = totals(ws)
    direct, self_check, province = rows["direct"], rows["self"], rows["province"]

    # who each total is built from: roots that submitted / roots of the scope
    assert ws.cell(direct, 3).value == "Tổng hợp từ 2/6 đơn vị đã nộp"  # DU-STNMT, HU-NP
    assert ws.cell(self_check, 3).value == "Tổng hợp từ 1/4 đơn vị đã nộp"  # HU-BACAI
    assert ws.cell(province, 3).value == "Tổng hợp từ 3/10 đơn vị đã nộp"

    teams = columns[("Số đoàn kiểm tra", "Số đoàn")]
    # 4 (DU-STNMT) + 5 (HU-NP); not the communes' 2 + 1, not CB-TTT's 100, not HU-NH's 50
    assert ws.cell(direct, teams).value == 9
    assert ws.cell(self_check, teams).value == 3
    assert ws.cell(province, teams).value == 12

    commune_party = columns[("4.2. Đối thoại xã — cấp ủy", "Số hội nghị")]
    assert ws.cell(direct, commune_party).value == 7  # HU-NP only: its communes are inside it
    assert ws.cell(self_check, commune_party).value is None  # nobody counted answered it
    assert ws.cell(province, commune_party).value == 7

    done = columns[("4.3. Khiếu nại", "Số đơn đã giải quyết")]
    assert [ws.cell(direct, done + i).value for i in (0, 1)] == [55, 60]  # 10+45, 10+50
    assert ws.cell(direct, done + 2).value == "91,7%"  # 55/60, printed text, decimal comma
    assert [ws.cell(self_check, done + i).value for i in range(3)] == [0, 0, "—"]
    assert [ws.cell(province, done + i).value for i in (0, 1)] == [55, 60]
    assert ws.cell(province, done + 2).value == "91,7%"

    times = columns[("4.1. Tiếp định kỳ (huyện, sở)", "lượt")]
    assert [ws.cell(direct, times + i).value for i in (0, 1)] == [5, 50]  # 2+3, 20+30
    assert [ws.cell(province, times + i).value for i in (0, 1)] == [5, 50]
    assert ws.cell(self_check, times).value is None

    pct = columns[("Chỉ số hài lòng (%)", "% (dòng cộng: bình quân)")]
    assert ws.cell(direct, pct).value == "80,0%"  # CB-TTT's draft 10 left out
    assert ws.cell(self_check, pct).value == "60,0%"
    assert ws.cell(province, pct).value == "70,0%"  # (80 + 60) / 2: an average, in italics
    assert ws.cell(province, pct).font.italic


def test_units_show_status_and_progress_and_children_sit_beneath_their_parent(example):
    ws = Summary(example)
    district = unit_row(ws, "Ban Thường vụ Huyện ủy Ninh Phước")
    assert ws.cell(district, 2).value == "Ban Thường vụ Huyện ủy Ninh Phước"
    assert ws.cell(district + 1, 2).value == "– Đảng ủy thị trấn Phước Dân"
    assert ws.cell(district + 2, 2).value == "– Đảng ủy xã Phước Hậu"
    assert ws.cell(district + 1, 2).alignment.indent > ws.cell(district, 2).alignment.indent
    # every row numbered in turn, the detail too: the STT never skips a number
    assert ws.cell(district + 1, 1).value == ws.cell(district, 1).value + 1
    assert ws.cell(district, 3).value == "đã nộp"
    draft = unit_row(ws, "Chi bộ Thanh tra tỉnh")
    assert ws.cell(draft, 3).value == "đang điền 3/14 câu"
    assert ws.cell(draft, 4 + 2).font.color.rgb.endswith("808080")  # grey: not counted
    assert ws.cell(unit_row(ws, "Ban Thường vụ Huyện ủy Ninh Hải"), 3).value.startswith(
        "bị trả lại 2/"
    )
    assert ws.cell(unit_row(ws, "Ban cán sự đảng UBND tỉnh"), 3).value == "chưa bắt đầu"


def test_the_mismatch_sheet_lists_the_planted_mismatch_and_marks_the_cell(example):
    check = example["Kiểm tra số liệu"]
    assert check["A1"].value == "TỈNH ỦY NINH THUẬN"  # printed as an annex: the same heading
    assert table_rows(check) == [
        [
            1,
            "HU-NP",
            "Ban Thường vụ Huyện ủy Ninh Phước",
            "Hội nghị đối thoại với Nhân dân — Cấp xã — Người đứng đầu cấp ủy",
            7,
            10,
            2,
            3,
        ]
    ]
    ws = Summary(example)
    columns, _ = totals(ws)
    commune_party = columns[("4.2. Đối thoại xã — cấp ủy", "Số hội nghị")]
    marked = ws.cell(unit_row(ws, "Ban Thường vụ Huyện ủy Ninh Phước"), commune_party)
    assert marked.value == 7 and marked.fill.fgColor.rgb.endswith("F8CBAD")
    teams = columns[("Số đoàn kiểm tra", "Số đoàn")]  # 2 + 1 ≤ 5: not marked
    plain = ws.cell(unit_row(ws, "Ban Thường vụ Huyện ủy Ninh Phước"), teams)
    assert plain.fill.fgColor.rgb in ("00000000", None)


def test_no_mismatch_sheet_says_so(store):
    store.answers("HU-NP", {"inspection_teams": {"value": 5}})
    store.submit("HU-NP")
    _, data = export_bytes(store.database, now=NOW, unit_sheets=False)
    check = open_workbook(data)["Kiểm tra số liệu"]
    assert table_rows(check) == []
    assert check.cell(check.max_row, 1).value.startswith("Không có chỉ tiêu nào")


def test_parent_in_another_group_three_levels_and_missing_parent_in_the_workbook(store):
    store.add_units(
        # a commune of HU-NP filed under the other group: still beneath HU-NP, counted nowhere
        UnitRow("XA-KHAC", "Đảng ủy xã Khác Nhóm", "xa", "HU-NP", "tu_kiem_tra"),
        # three levels: HU-NP > DU-PHUOCDAN > CB-THON
        UnitRow("CB-THON", "Chi bộ thôn Một", "xa", "DU-PHUOCDAN", "kiem_tra_truc_tiep"),
        # a parent that is not in the campaign (no group): the unit is a root
        UnitRow("NGOAI", "Đơn vị ngoài đợt", "huyen", "", "khong_tham_gia"),
        UnitRow("CON-NGOAI", "Xã có cấp trên ngoài đợt", "xa", "NGOAI", "tu_kiem_tra"),
    )
    for code, teams in (("HU-NP", 5), ("DU-PHUOCDAN", 2), ("CB-THON", 1), ("XA-KHAC", 4)):
        store.answers(code, {"inspection_teams": {"value": teams}})
        store.submit(code)
    store.answers("CON-NGOAI", {"inspection_teams": {"value": 8}})
    store.submit("CON-NGOAI")
    _, data = export_bytes(store.database, now=NOW, unit_sheets=False)
    ws = Summary(open_workbook(data))
    columns, rows = totals(ws)
    teams = columns[("Số đoàn kiểm tra", "Số đoàn")]
    assert ws.cell(rows["direct"], teams).value == 5
    assert ws.cell(rows["self"], teams).value == 8  # the orphan counts as a root
    assert ws.cell(rows["province"], teams).value == 13
    district = unit_row(ws, "Ban Thường vụ Huyện ủy Ninh Phước")
    names = [ws.cell(district + i, 2).value for i in range(4)]
    assert names == [
        "Ban Thường vụ Huyện ủy Ninh Phước",
        "– Đảng ủy thị trấn Phước Dân",
        "– Chi bộ thôn Một",
        "– Đảng ủy xã Khác Nhóm",
    ]
    indents = [ws.cell(district + i, 2).alignment.indent for i in range(3)]
    assert indents[0] < indents[1] < indents[2]
    orphan = unit_row(ws, "Xã có cấp trên ngoài đợt")
    assert ws.cell(orphan, 2).value == "Xã có cấp trên ngoài đợt"  # a root: no dash
    assert rows["direct"] < orphan < rows["self"]


# --- the tree alone --------------------------------------------------------------------------


@dataclass
class Unit:
    code: str
    parent_code: str | None = None
    group: str | None = "kiem_tra_truc_tiep"
    status: str = "submitted"
    level: str = "huyen"
    answers: dict = field(default_factory=dict)


def test_only_submitted_or_approved_count():
    assert [s for s in ("not_started", "in_progress", "submitted", "returned", "approved")
            if counts(s)] == ["submitted", "approved"]  # fmt: skip


def test_tree_follows_parent_code_whatever_the_status_and_group():
    members = [
        Unit("H1"),
        Unit("H2", status="in_progress"),
        Unit("X1", "H2", status="not_started"),
        Unit("X2", "H1", group="tu_kiem_tra", status="in_progress"),
        Unit("T1", "X2"),
        Unit("O1", "MISSING", group="tu_kiem_tra"),
        Unit("C1", "C2"),
        Unit("C2", "C1"),
    ]
    tree = UnitTree(members)
    groups = {group: [(m.code, depth) for m, depth in rows] for group, rows in tree.groups()}
    assert list(groups) == list(GROUP_ORDER)
    assert groups["kiem_tra_truc_tiep"][:5] == [
        ("H1", 0), ("X2", 1), ("T1", 2), ("H2", 0), ("X1", 1),
    ]  # fmt: skip
    assert groups["tu_kiem_tra"] == [("O1", 0)]
    # a cycle (refused on import) still lists both units once
    assert sorted(code for code, _ in groups["kiem_tra_truc_tiep"][5:]) == ["C1", "C2"]
    assert [m.code for m in members if tree.counted(m)] == ["H1", "O1", "C1"]
    scope = tree.province_scope()
    assert (scope.counted, scope.roots, scope.units) == (3, 4, 8)
    assert scope.label == "Tổng hợp từ 3/4 đơn vị đã nộp"


def test_status_counts_and_late_units():
    members = [
        Unit("A"),
        Unit("B", status="approved"),
        Unit("C", status="in_progress"),
        Unit("D", status="returned"),
        Unit("E", status="not_started"),
    ]
    assert status_counts(members) == {"submitted": 2, "in_progress": 2, "not_started": 1}
    deadline = datetime(2022, 7, 4, 17, 0, tzinfo=UTC)
    deadlines = Deadlines(deadline)
    assert late(members, deadlines, deadline.replace(hour=16)) == []
    assert [m.code for m in late(members, deadlines, deadline)] == ["C", "D", "E"]
    summary = status_summary(members, deadlines, deadline.replace(day=5))
    assert summary["late"] == ["C", "D", "E"]
    assert summary["counted_in_totals"] == ["A", "B"]
    assert summary["province_total"] == "Tổng hợp từ 2/5 đơn vị đã nộp"


# --- /status and baocao status --json: the same tree and rules -------------------------------


def test_status_lists_a_commune_under_its_own_district_whatever_its_status(store, database):
    store.add_units(
        UnitRow("DU-A", "Đảng ủy xã A", "xa", "HU-NH", "kiem_tra_truc_tiep"),
        UnitRow("CB-B", "Chi bộ thôn B", "xa", "DU-A", "kiem_tra_truc_tiep"),
    )
    for code in ("HU-NH", "DU-A", "HU-NP"):
        store.answers(code, {"inspection_teams": {"value": 1}})
    store.submit("HU-NH")  # the district has submitted: its commune still sits beneath it
    store.submit("HU-NP")
    with database.transaction() as session:
        campaign = current_campaign(session)
        progress = campaign_progress(session, campaign)
        text = status_text(campaign, progress, NOW, campaign_deadlines(session, campaign))
    lines = text.splitlines()
    district = lines.index(" • Ban Thường vụ Huyện ủy Ninh Hải (HU-NH): đã nộp")
    assert lines[district + 1] == "   ↳ Đảng ủy xã A (DU-A): đang điền 1/14 câu"
    assert lines[district + 2] == "      ↳ Chi bộ thôn B (CB-B): chưa bắt đầu"
    assert lines[district + 3] == "   ↳ Đảng ủy xã Tri Hải (DU-TRIHAI): chưa bắt đầu"
    ninh_phuoc = lines.index(" • Ban Thường vụ Huyện ủy Ninh Phước (HU-NP): đã nộp")
    assert lines[ninh_phuoc + 1] == "   ↳ Đảng ủy thị trấn Phước Dân (DU-PHUOCDAN): chưa bắt đầu"
    assert "Đã nộp 2/15 · đang điền 1 · chưa bắt đầu 12" in lines
