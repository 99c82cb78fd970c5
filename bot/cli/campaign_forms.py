"""`baocao campaign import|export-form|open|close|archive|copy`: campaigns as XLSForm files and
their life cycle (draft → open → closed → archived).

An imported form becomes a draft that reaches nobody until `open`; `close` stops answers and
reminders but keeps the exports; `copy` repeats a campaign for a new period, as a draft. The
campaign list's extra facts come from `storage.campaign_life.campaign_facts` (the web page's
list shows the same).
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from bot.app import App
from bot.cli.text import UsageError
from bot.output_files import check_output_path, replaced_atomically
from exports.xlsform_read import read_xlsform
from exports.xlsform_settings import parse_moment
from exports.xlsform_write import write_xlsform
from storage.campaign_life import (
    STATE_NAMES,
    TRANSITIONS,
    change_state,
    copy_campaign,
    create_draft,
)
from storage.repository import campaign_form, campaign_spec, current_campaign

ACTIONS = frozenset({"import", "export-form", "open", "close", "archive", "copy"})


def add_actions(actions: argparse._SubParsersAction) -> None:
    imported = actions.add_parser("import", help="nhập biểu mẫu XLSForm thành đợt mới (bản nháp)")
    imported.add_argument(
        "file", metavar="TỆP.xlsx", help="tệp XLSForm (survey, choices, settings)"
    )
    imported.add_argument("--code", metavar="MÃ_ĐỢT", help="mã đợt (mặc định: form_id của tệp)")
    exported = actions.add_parser("export-form", help="ghi biểu mẫu của một đợt ra tệp XLSForm")
    exported.add_argument("code", metavar="MÃ_ĐỢT")
    exported.add_argument("--output", "-o", required=True, metavar="TỆP.xlsx")
    for action, (_, _, verb) in TRANSITIONS.items():
        actions.add_parser(action, help=f"{verb} đợt báo cáo").add_argument(
            "code", metavar="MÃ_ĐỢT"
        )
    copied = actions.add_parser("copy", help="lặp lại một đợt cho kỳ mới (bản nháp)")
    copied.add_argument("code", metavar="MÃ_ĐỢT")
    copied.add_argument("--code", dest="new_code", required=True, metavar="MÃ_MỚI")
    copied.add_argument(
        "--deadline", required=True, metavar="dd/mm/yyyy", help="hạn nộp (giờ Việt Nam)"
    )
    copied.add_argument("--period-start", metavar="dd/mm/yyyy")
    copied.add_argument("--period-end", metavar="dd/mm/yyyy")


def cmd_campaign_action(app: App, args: argparse.Namespace) -> int:
    now = app.clock()
    if args.action == "export-form":
        return _export_form(app, args)
    with app.database.transaction() as session:
        if args.action == "import":
            loaded = read_xlsform(args.file, code=args.code)
            campaign = create_draft(session, loaded, now)
            count = len(loaded.form.questions)
            print(
                f"Đã nhập đợt báo cáo {campaign.code} ({count} câu hỏi), trạng thái bản nháp. "
                f"Mở cho các đơn vị trả lời: baocao campaign open {campaign.code}"
            )
        elif args.action == "copy":
            campaign = copy_campaign(
                session,
                args.code,
                args.new_code,
                _moment(args.deadline, "--deadline", end_of_day=True),
                now,
                period_start=_day(args.period_start, "--period-start"),
                period_end=_day(args.period_end, "--period-end"),
            )
            print(f"Đã tạo đợt {campaign.code} (bản nháp) từ đợt {args.code}.")
        else:
            campaign = change_state(session, args.code, args.action, now)
            print(f"Đợt báo cáo {campaign.code} nay {STATE_NAMES[campaign.state]}.")
    return 0


def _moment(text: str, option: str, *, end_of_day: bool):
    moment = parse_moment(text, end_of_day=end_of_day)
    if moment is None:
        raise UsageError(f"{option}: cần ngày dạng dd/mm/yyyy, không phải {text!r}")
    return moment


def _day(text: str | None, option: str) -> date | None:
    return None if text is None else _moment(text, option, end_of_day=False).date()


def _export_form(app: App, args: argparse.Namespace) -> int:
    problem = check_output_path(args.output, ".xlsx", "tệp biểu mẫu")
    if problem:
        raise UsageError(problem)
    with app.database.transaction() as session:
        campaign = current_campaign(session, args.code)
        form, spec = campaign_form(campaign), campaign_spec(campaign)
    with replaced_atomically(Path(args.output)) as stream:
        write_xlsform(form, spec, stream)
    print(f"Đã ghi biểu mẫu của đợt {campaign.code} ({len(form.questions)} câu hỏi): {args.output}")
    return 0
