"""Benchmark: the consolidated Excel export at 10,000 units against plain openpyxl write-only.

Builds synthetic `UnitReport`s in memory (no database: the export's time is measured alone)
for the bundled CT37 form, every question answered, as a tree of districts with 99 communes
each (100 × 99 for 10,000 units; one commune in ten filed under the other group), so the
hierarchy rules (tree order, only submitted roots added, the parent/children check) run in
full; then runs each variant in its own subprocess so that peak memory (`ru_maxrss`) is
comparable:

* ours          — `write_consolidated_workbook(..., unit_sheets=False)`
* ours+sheets   — the same with one Phụ lục sheet per unit (the 500-unit limit lifted)
* baseline      — the same sheets with the same cells, as plain values appended with plain
                  `Workbook(write_only=True)`: every biểu ("Biểu số 01", …: heading and
                  header rows, each unit's STT, name, status and that biểu's figures, the
                  subtotal and province rows, note rows), "Kiểm tra số liệu" (one row per
                  mismatch), "Văn bản" and "Tiến độ"; no styles, merges, row heights, page
                  setup, comments or footnotes. The unit order, figures, totals and mismatches
                  come from the same functions as ours (totals computed once, as ours does),
                  so the ratio measures what the styled, printable layout costs.

Time is measured without tracemalloc; a second run of each variant measures the tracemalloc
peak. Targets: ours ≤ 1.5 × baseline time, peak memory < 300 MB.

    python bench/export.py                  # 10,000 units, all variants
    python bench/export.py --units 2000 --skip-unit-sheets
    python bench/export.py --skip-unit-sheets --database   # also load from SQLite
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from openpyxl import Workbook  # noqa: E402

from conversations.forms import Form, QuestionKind, load_form  # noqa: E402
from exports.consolidated import unit_tree  # noqa: E402
from exports.consolidation import mismatches  # noqa: E402
from exports.data import AnswerData, CampaignInfo, UnitReport  # noqa: E402
from exports.excel import write_consolidated_workbook  # noqa: E402
from exports.figures import Totals, unit_figures  # noqa: E402
from exports.lists import CHECK_HEADERS, DOCUMENT_HEADERS, PROGRESS_HEADERS  # noqa: E402
from exports.table_plan import UNIT_HEADERS, table_plan  # noqa: E402

NOW = datetime(2022, 7, 4, 1, 30, tzinfo=UTC)
VARIANTS = ("baseline", "ours", "ours+sheets")


def synthetic(units: int, seed: int = 37) -> tuple[CampaignInfo, Form, list[UnitReport]]:
    """A province of `units` units: departments, districts and their communes, all answered."""
    rng = random.Random(seed)
    form = load_form("ct37_phuluc.yaml")
    info = CampaignInfo(
        code="ct37-2022",
        title="Kiểm tra việc thực hiện Chỉ thị 37-CT/TU, ngày 11/5/2017 của Ban Thường vụ Tỉnh ủy",
        issued_by="Kế hoạch số 131-KH/TU, ngày 11/5/2022 của Ban Thường vụ Tỉnh ủy",
        receiver="Ban Dân vận Tỉnh ủy",
        deadline=datetime(2022, 7, 4, 17, 0, tzinfo=UTC),
    )
    reports: list[UnitReport] = []
    groups = ("kiem_tra_truc_tiep", "tu_kiem_tra")
    for index in range(units):
        district, place = divmod(index, 100)  # place 0: the district, 1–99: its communes
        level = "huyen" if place == 0 else "xa"
        group = groups[district % 2]
        if place % 10 == 5:
            group = groups[(district + 1) % 2]  # a commune filed under the other group
        reports.append(
            UnitReport(
                code=f"U{index:05d}",
                name=f"Đảng ủy đơn vị số {index} — {level} (mẫu)",
                level=level,
                group=group,
                parent_code=f"U{district * 100:05d}" if place else None,
                status=rng.choice(["submitted", "approved", "in_progress", "returned"]),
                submitted_at=NOW - timedelta(minutes=rng.randint(0, 50_000)),
                submitted_by=f"Cán bộ {index}",
                last_activity_at=NOW - timedelta(minutes=rng.randint(0, 5_000)),
                reminders_sent=rng.randint(0, 4),
                answers={q.key: _answer(q.kind, rng) for q in form.questions},
                answered=len(form.questions_for(level)),
                total=len(form.questions_for(level)),
            )
        )
    return info, form, reports


def _answer(kind: str, rng: random.Random) -> AnswerData:
    if kind == QuestionKind.INTEGER:
        return AnswerData({"value": rng.randint(0, 500)})
    if kind == QuestionKind.PERCENT:
        return AnswerData({"value": round(rng.uniform(50, 100), 1)})
    if kind == QuestionKind.PAIR:
        times = rng.randint(0, 60)
        return AnswerData({"times": times, "people": times * rng.randint(1, 20)})
    if kind == QuestionKind.RATIO:
        total = rng.randint(0, 80)
        return AnswerData({"done": rng.randint(0, total), "total": total})
    if kind == QuestionKind.DOCUMENTS:
        items = [
            {
                "raw": f"{n}-KH/HU, ngày 05/6/2017, Kế hoạch triển khai Chỉ thị 37-CT/TU",
                "number": f"{n}-KH/HU",
                "date": "2017-06-05",
                "summary": "Kế hoạch triển khai Chỉ thị 37-CT/TU",
            }
            for n in range(rng.randint(1, 3))
        ]
        return AnswerData({"items": items})
    return AnswerData({"value": "Nội dung"})


# --- the variants ----------------------------------------------------------------------------


def run_ours(output: str, info, form, reports, *, unit_sheets: bool) -> None:
    write_consolidated_workbook(
        output,
        info,
        form,
        reports,
        now=NOW,
        unit_sheets=unit_sheets,
        unit_sheet_limit=None,
    )


def run_baseline(output: str, info, form, reports) -> None:
    """The same sheets and cells as ours, as plain values, with plain write-only openpyxl."""
    workbook = Workbook(write_only=True)
    tree = unit_tree(form, reports)
    groups = tree.groups()
    province = Totals(form)
    sums = []  # the totals, computed once for every biểu, as ours does
    for _group, members in groups:
        totals = Totals(form)
        for report, _depth in members:
            totals.add(report.level, report.answers)
            province.add(report.level, report.answers)
        sums.append(totals)
    for table in table_plan(form):
        sheet = workbook.create_sheet(table.label)
        for _ in range(8):
            sheet.append([f"Dòng tiêu đề {form.title}"])
        for _ in range(3):
            sheet.append([label for label, _ in UNIT_HEADERS] + [c.header for c in table.columns])
        index = 0
        for (group, members), totals in zip(groups, sums, strict=True):
            sheet.append(["I", str(group)])
            for report, _depth in members:
                index += 1
                row = [index, report.name, report.status]
                for question in table.questions:
                    answer = report.answer(question.key)
                    asked = question.applies_to(report.level)
                    row.extend(f.value for f in unit_figures(question, answer, asked))
                sheet.append(row)
            sheet.append([None, "Cộng", "Tổng hợp"] + _total_values(table.questions, totals))
        sheet.append([None, "Toàn tỉnh", "Tổng hợp"] + _total_values(table.questions, province))
        for _ in range(8):
            sheet.append([f"Ghi chú {form.title}"])

    check = workbook.create_sheet("Kiểm tra số liệu")
    check.append(["Kiểm tra số liệu"])
    check.append([label for label, _ in CHECK_HEADERS])
    for number, item in enumerate(mismatches(tree, form), start=1):
        check.append(
            [
                number,
                item.parent.code,
                item.parent.name,
                item.label,
                item.parent_value,
                item.children_sum,
                item.children,
                item.children_sum - item.parent_value,
            ]
        )

    documents = workbook.create_sheet("Văn bản")
    documents.append(["Văn bản"])
    documents.append([label for label, _ in DOCUMENT_HEADERS])
    keys = [q for q in form.questions if q.kind == QuestionKind.DOCUMENTS]
    number = 0
    for report in reports:
        for question in keys:
            answer = report.answer(question.key)
            if answer is None or answer.not_applicable:
                continue
            for item in answer.value["items"]:
                number += 1
                documents.append(
                    [
                        number,
                        report.code,
                        report.name,
                        question.label,
                        item["number"],
                        datetime.fromisoformat(item["date"]),
                        item["summary"],
                        item["raw"],
                    ]
                )

    progress = workbook.create_sheet("Tiến độ")
    progress.append(["Tiến độ"])
    progress.append([label for label, _ in PROGRESS_HEADERS])
    zone = info.zone
    for number, report in enumerate(reports, start=1):
        progress.append(
            [
                number,
                report.code,
                report.name,
                report.level,
                report.group,
                report.parent_code,
                report.status,
                report.answered,
                report.total,
                report.submitted_at.astimezone(zone).replace(tzinfo=None),
                report.submitted_by,
                report.last_activity_at.astimezone(zone).replace(tzinfo=None),
                report.reminders_sent,
            ]
        )
    workbook.save(output)


def _total_values(questions, totals: Totals) -> list:
    return [f.value for q in questions for f in totals.figures(q)]


def child(variant: str, units: int, trace: bool) -> dict:
    """Run one variant in this process; return its figures."""
    info, form, reports = synthetic(units)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    handle, output = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        if variant == "baseline":
            run_baseline(output, info, form, reports)
        else:
            run_ours(output, info, form, reports, unit_sheets=variant == "ours+sheets")
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
        if trace:
            tracemalloc.stop()
        size = os.path.getsize(output) / 2**20
    finally:
        os.remove(output)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "variant": variant,
        "seconds": seconds,
        "tracemalloc_peak_mb": peak,
        "maxrss_mb": rss_after,
        "maxrss_data_mb": rss_before,
        "file_mb": size,
    }


def build_database(units: int, path: str) -> dict:
    """A SQLite database holding the synthetic province (bundled units + `units` more)."""
    from sqlalchemy import insert
    from sqlmodel import select

    from storage.database import open_database
    from storage.models import Answer, Submission, Unit
    from storage.repository import UnitRow, current_campaign, replace_units, seed_if_empty

    _, _, reports = synthetic(units)
    database = open_database(f"sqlite:///{path}")
    with database.transaction() as session:
        seed_if_empty(session, NOW)
        replace_units(
            session,
            [UnitRow(r.code, r.name, r.level, r.parent_code or "", r.group or "") for r in reports],
        )
        campaign = current_campaign(session)
        ids = {code: id_ for id_, code in session.exec(select(Unit.id, Unit.code))}
        session.execute(
            insert(Submission.__table__),
            [
                {"campaign_id": campaign.id, "unit_id": ids[r.code], "status": r.status}
                for r in reports
            ],
        )
        submissions = dict(session.exec(select(Submission.unit_id, Submission.id)).all())
        session.execute(
            insert(Answer.__table__),
            [
                {
                    "submission_id": submissions[ids[r.code]],
                    "question_key": key,
                    "value": answer.value,
                    "not_applicable": answer.not_applicable,
                    "updated_at": NOW,
                }
                for r in reports
                for key, answer in r.answers.items()
            ],
        )
    database.dispose()
    return {"path": path}


def database_child(path: str) -> dict:
    """Load the province from the database, then export it; each timed on its own."""
    from bot.documents.snapshot import load_reports
    from storage.database import open_database
    from storage.repository import current_campaign

    database = open_database(f"sqlite:///{path}")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    with database.transaction() as session:
        info, form, loaded = load_reports(session, current_campaign(session))
    load_seconds = time.perf_counter() - started
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    output = path + ".xlsx"
    started = time.perf_counter()
    write_consolidated_workbook(output, info, form, loaded, now=NOW, unit_sheets=False)
    export_seconds = time.perf_counter() - started
    os.remove(output)
    return {
        "units": len(loaded),
        "answers": sum(len(r.answers) for r in loaded),
        "load_seconds": load_seconds,
        "export_seconds": export_seconds,
        "maxrss_before_mb": rss_before,
        "maxrss_loaded_mb": rss_loaded,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure(variant: str, units: int, trace: bool, path: str | None = None) -> dict:
    command = [sys.executable, __file__, "--child", variant, "--units", str(units)]
    if trace:
        command.append("--trace")
    if path:
        command += ["--path", path]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per variant (best)")
    parser.add_argument("--skip-unit-sheets", action="store_true")
    parser.add_argument(
        "--database", action="store_true", help="also load the data from SQLite (timed apart)"
    )
    parser.add_argument(
        "--child", choices=(*VARIANTS, "build-database", "database"), help=argparse.SUPPRESS
    )
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "build-database":
        print(json.dumps(build_database(args.units, args.path)))
        return 0
    if args.child == "database":
        print(json.dumps(database_child(args.path)))
        return 0
    if args.child:
        print(json.dumps(child(args.child, args.units, args.trace)))
        return 0

    variants = [v for v in VARIANTS if not (args.skip_unit_sheets and v == "ours+sheets")]
    timed: dict[str, list[dict]] = {variant: [] for variant in variants}
    for _ in range(args.repeat):  # alternated, so a busy moment hits every variant alike
        for variant in variants:
            timed[variant].append(measure(variant, args.units, trace=False))
    results = {}
    for variant in variants:
        best = min(timed[variant], key=lambda r: r["seconds"])
        traced = measure(variant, args.units, trace=True)
        best["tracemalloc_peak_mb"] = traced["tracemalloc_peak_mb"]
        results[variant] = best

    print(f"Excel export, {args.units:,} units × {24} questions (best of {args.repeat})")
    print(
        f"{'variant':<13} {'seconds':>8} {'× base':>7} {'tracemalloc':>12} "
        f"{'maxrss':>8} {'(data)':>8} {'file':>8}"
    )
    base = results["baseline"]["seconds"]
    for variant, r in results.items():
        print(
            f"{variant:<13} {r['seconds']:>8.2f} {r['seconds'] / base:>6.2f}× "
            f"{r['tracemalloc_peak_mb']:>9.1f} MB {r['maxrss_mb']:>5.0f} MB "
            f"{r['maxrss_data_mb']:>5.0f} MB {r['file_mb']:>5.1f} MB"
        )
    ratio = results["ours"]["seconds"] / base
    ours = results["ours"]
    print(f"\nours / baseline = {ratio:.2f}× (target ≤ 1.5×: {'ok' if ratio <= 1.5 else 'MISSED'})")
    print(
        f"ours peak memory: tracemalloc {ours['tracemalloc_peak_mb']:.1f} MB, maxrss "
        f"{ours['maxrss_mb']:.0f} MB (target < 300 MB: "
        f"{'ok' if ours['maxrss_mb'] < 300 else 'MISSED'})"
    )
    if "ours+sheets" in results:
        print(
            "ours+sheets forces one sheet per unit past the 500-unit limit (exports.excel."
            "UNIT_SHEET_LIMIT): shown for scale, not a supported setting."
        )
    if args.database:
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "bench.db")
            measure("build-database", args.units, trace=False, path=path)
            db = measure("database", args.units, trace=False, path=path)
        print(
            f"\nfrom SQLite: load_reports {db['units']:,} units / {db['answers']:,} answers in "
            f"{db['load_seconds']:.2f} s (maxrss {db['maxrss_before_mb']:.0f} → "
            f"{db['maxrss_loaded_mb']:.0f} MB), then the export in {db['export_seconds']:.2f} s "
            f"(maxrss {db['maxrss_mb']:.0f} MB)"
        )
    print(
        "tracemalloc = peak Python allocations during the export alone; maxrss = whole "
        "process peak, (data) = after building the synthetic reports, before exporting."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
