"""The `baocao` command line: chat in the terminal, run the bot, manage units, invites,
campaigns, status, exports and reminders.

Every user mistake ends with one clear line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.exc import OperationalError

from bot.app import App, build_app
from bot.secretariat import notify_returned, status_counts, status_text
from bot.settings import SettingsError, load_settings
from conversations.campaigns import load_campaign
from conversations.forms import FormError
from conversations.messages import format_moment
from storage.database import DatabaseUrlError
from storage.progress import campaign_progress
from storage.repository import (
    StorageError,
    campaign_spec,
    create_invite,
    current_campaign,
    list_campaigns,
    list_units,
    replace_units,
    return_submission,
    save_campaign,
    submission_for,
    unit_by_code,
)


class UsageError(Exception):
    """A mistake in how a command was called."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="baocao",
        description="baocao — trợ lý thu thập số liệu báo cáo qua Telegram, Zalo và dòng lệnh.",
        epilog="Cấu hình bằng biến môi trường (xem README). Mặc định dùng SQLite baocao.db.",
    )
    commands = parser.add_subparsers(dest="command", metavar="LỆNH", parser_class=_Parser)
    commands.required = True

    chat = commands.add_parser("chat", help="điền Phụ lục ngay trong cửa sổ dòng lệnh")
    chat.add_argument("--unit", metavar="MÃ", help="mã đơn vị (bỏ trống để chọn từ danh sách)")

    commands.add_parser("run", help="chạy bot (Telegram, Zalo, web, nhắc hạn) theo cấu hình")

    units = commands.add_parser("units", help="quản lý danh sách đơn vị")
    units_commands = units.add_subparsers(dest="action", metavar="VIỆC", parser_class=_Parser)
    units_commands.required = True
    units_import = units_commands.add_parser("import", help="nhập danh sách từ CSV hoặc XLSX")
    units_import.add_argument("file", metavar="TỆP")
    units_list = units_commands.add_parser("list", help="liệt kê đơn vị")
    units_list.add_argument("--json", action="store_true", help="in JSON")

    invite = commands.add_parser("invite", help="tạo mã mời dùng một lần")
    invite.add_argument("unit", nargs="?", metavar="MÃ_ĐƠN_VỊ")
    invite.add_argument("--role", choices=["officer", "secretariat"], default="officer")
    invite.add_argument("--json", action="store_true", help="in JSON")

    campaign = commands.add_parser("campaign", help="quản lý đợt báo cáo")
    campaign_commands = campaign.add_subparsers(dest="action", metavar="VIỆC", parser_class=_Parser)
    campaign_commands.required = True
    campaign_load = campaign_commands.add_parser("load", help="nạp hoặc cập nhật từ tệp YAML")
    campaign_load.add_argument("file", metavar="TỆP")
    campaign_list = campaign_commands.add_parser("list", help="liệt kê các đợt báo cáo")
    campaign_list.add_argument("--json", action="store_true", help="in JSON")

    status = commands.add_parser("status", help="tiến độ nộp báo cáo theo đợt")
    status.add_argument("--json", action="store_true", help="in JSON")

    export = commands.add_parser("export", help="xuất bảng Excel")
    export.add_argument("--output", "-o", required=True, metavar="TỆP.xlsx")
    export.add_argument("--unit", metavar="MÃ", help="chỉ Phụ lục của một đơn vị")
    export.add_argument("--campaign", metavar="MÃ_ĐỢT")
    export.add_argument("--no-unit-sheets", action="store_true", help="không tạo sheet từng đơn vị")

    report = commands.add_parser("report", help="tạo dự thảo báo cáo Word theo Đề cương")
    report_what = report.add_mutually_exclusive_group(required=True)
    report_what.add_argument("--unit", metavar="MÃ", help="báo cáo của một đơn vị")
    report_what.add_argument(
        "--consolidated", action="store_true", help="báo cáo tổng hợp của Ban Dân vận"
    )
    report.add_argument("--output", "-o", required=True, metavar="TỆP.docx")
    report.add_argument("--campaign", metavar="MÃ_ĐỢT")

    remind = commands.add_parser("remind", help="gửi (hoặc liệt kê) tin nhắc hạn ngay bây giờ")
    remind.add_argument("--dry-run", action="store_true", help="chỉ liệt kê, không gửi")
    remind.add_argument("--unit", metavar="MÃ")

    reopen = commands.add_parser("return", help="trả lại báo cáo đã nộp để đơn vị sửa")
    reopen.add_argument("unit", metavar="MÃ_ĐƠN_VỊ")
    reopen.add_argument("--reason", default="", metavar="LÝ_DO")
    return parser


def main(argv: list[str] | None = None) -> int:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
        sys.stderr.reconfigure(encoding="utf-8")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as error:
        print(f"baocao: {error} (xem: baocao --help)", file=sys.stderr)
        return 2
    app: App | None = None
    try:
        app = build_app(load_settings())
        return COMMANDS[args.command](app, args)
    except (SettingsError, DatabaseUrlError, StorageError, FormError, UsageError) as error:
        print(f"baocao: {error}", file=sys.stderr)
        return 1
    except OperationalError as error:
        reason = str(error.orig).splitlines()[0] if error.orig else "không kết nối được"
        print(f"baocao: lỗi cơ sở dữ liệu: {reason}", file=sys.stderr)
        return 1
    finally:
        if app is not None:
            app.close()


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def cmd_chat(app: App, args: argparse.Namespace) -> int:
    from bot.channels.console import run_console

    return run_console(app.service, unit_code=args.unit, operator=getpass.getuser())


def cmd_run(app: App, args: argparse.Namespace) -> int:
    from bot.runner import run

    return run(app)


def cmd_units(app: App, args: argparse.Namespace) -> int:
    from bot.unit_import import UnitFileError, read_unit_file

    with app.database.transaction() as session:
        if args.action == "import":
            stored = list_units(session)
            codes = {u.id: u.code for u in stored}
            existing = {u.code: codes.get(u.parent_id, "") for u in stored}
            try:
                rows = read_unit_file(args.file, existing)
            except UnitFileError as error:
                print("baocao: không nhập tệp, chưa có gì thay đổi:", file=sys.stderr)
                for problem in error.problems[:50]:
                    print(f"  {problem}", file=sys.stderr)
                if len(error.problems) > 50:
                    print(f"  … và {len(error.problems) - 50} lỗi nữa", file=sys.stderr)
                return 1
            created, updated = replace_units(session, rows)
            print(f"Đã nhập {len(rows)} đơn vị: {created} mới, {updated} cập nhật.")
            return 0
        units = list_units(session)
        by_id = {u.id: u.code for u in units}
        records = [
            {
                "code": u.code,
                "name": u.name,
                "level": u.level,
                "parent_code": by_id.get(u.parent_id),
                "group": u.group,
            }
            for u in units
        ]
    if args.json:
        _print_json(records)
    else:
        for r in records:
            parent = f" ↳ {r['parent_code']}" if r["parent_code"] else ""
            print(f"{r['code']:<14} {r['level']:<9} {r['group'] or '':<20} {r['name']}{parent}")
    return 0


def cmd_invite(app: App, args: argparse.Namespace) -> int:
    if args.role == "officer" and not args.unit:
        raise UsageError("cần mã đơn vị, ví dụ: baocao invite HU-NP (hoặc --role secretariat)")
    with app.database.transaction() as session:
        unit = unit_by_code(session, args.unit) if args.unit else None
        invite = create_invite(
            session,
            role=args.role,
            unit=unit if args.role == "officer" else None,
            now=app.clock(),
            valid_for=timedelta(days=app.settings.baocao_invite_days),
        )
        record = {
            "code": invite.code,
            "unit": unit.code if unit and args.role == "officer" else None,
            "role": invite.role,
            "expires_at": invite.expires_at.isoformat(),
        }
    username = app.settings.telegram_bot_username
    if username:
        record["telegram_link"] = f"https://t.me/{username}?start={record['code']}"
    if args.json:
        _print_json(record)
    else:
        print(f"Mã mời: {record['code']} (hết hạn {format_moment(invite.expires_at)})")
        if "telegram_link" in record:
            print(f"Telegram: {record['telegram_link']}")
    return 0


def cmd_campaign(app: App, args: argparse.Namespace) -> int:
    with app.database.transaction() as session:
        if args.action == "load":
            loaded = load_campaign(args.file)
            campaign = save_campaign(session, loaded, app.clock())
            print(f"Đã nạp đợt báo cáo {campaign.code}: {campaign.title}")
            return 0
        records = [
            {
                "id": c.id,
                "code": c.code,
                "title": c.title,
                "form": c.form_key,
                "deadline": c.deadline.isoformat(),
                "issued_by": c.issued_by,
            }
            for c in list_campaigns(session)
        ]
    if args.json:
        _print_json(records)
    else:
        for r in records:
            print(f"{r['code']:<14} hạn {r['deadline'][:16]}  {r['title']}")
    return 0


def cmd_status(app: App, args: argparse.Namespace) -> int:
    now = app.clock()
    records, texts = [], []
    with app.database.transaction() as session:
        for campaign in list_campaigns(session):
            progress = campaign_progress(session, campaign)
            texts.append(status_text(campaign, progress, now))
            counts = status_counts(progress)
            records.append(
                {
                    "campaign": campaign.code,
                    "title": campaign.title,
                    "deadline": campaign.deadline.isoformat(),
                    "timezone": campaign_spec(campaign).timezone,
                    **counts,
                    "units": [
                        {
                            "code": p.unit.code,
                            "name": p.unit.name,
                            "status": p.status,
                            "answered": p.answered,
                            "total": p.total,
                            "submitted_at": p.submitted_at.isoformat() if p.submitted_at else None,
                        }
                        for p in progress
                    ],
                }
            )
    if args.json:
        _print_json(records)
    else:
        print("\n\n".join(texts))
    return 0


def cmd_export(app: App, args: argparse.Namespace) -> int:
    from bot.exporting import export_to_file

    return export_to_file(
        app,
        args.output,
        unit_code=args.unit,
        campaign_code=args.campaign,
        unit_sheets=not args.no_unit_sheets,
    )


def cmd_report(app: App, args: argparse.Namespace) -> int:
    from bot.reporting import report_to_file

    return report_to_file(app, args.output, unit_code=args.unit, campaign_code=args.campaign)


def cmd_remind(app: App, args: argparse.Namespace) -> int:
    from bot.reminders import remind_command

    return remind_command(app, dry_run=args.dry_run, unit_code=args.unit)


def cmd_return(app: App, args: argparse.Namespace) -> int:
    with app.database.transaction() as session:
        unit = unit_by_code(session, args.unit)
        submission = submission_for(session, current_campaign(session), unit, lock=True)
        return_submission(session, submission, args.reason, app.clock())
        notify_returned(session, unit, args.reason, app.clock())
    print(f"Đã trả lại báo cáo của {unit.name}.")
    return 0


COMMANDS: dict[str, Callable[[App, argparse.Namespace], int]] = {
    "chat": cmd_chat,
    "run": cmd_run,
    "units": cmd_units,
    "invite": cmd_invite,
    "campaign": cmd_campaign,
    "status": cmd_status,
    "export": cmd_export,
    "report": cmd_report,
    "remind": cmd_remind,
    "return": cmd_return,
}

if __name__ == "__main__":
    sys.exit(main())
