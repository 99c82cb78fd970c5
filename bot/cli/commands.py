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
from zoneinfo import ZoneInfo

from sqlalchemy.exc import OperationalError

from bot import use_cases
from bot.app import App, build_app
from bot.backup import BackupError
from bot.cli.campaign_forms import ACTIONS as CAMPAIGN_ACTIONS
from bot.cli.campaign_forms import add_actions as add_campaign_actions
from bot.cli.campaign_forms import cmd_campaign_action
from bot.cli.console import run_console
from bot.cli.inbound import add_parser as add_inbound_parser
from bot.cli.inbound import cmd_inbound
from bot.cli.members import add_parser as add_members_parser
from bot.cli.members import cmd_members
from bot.cli.ops import COMMANDS as OPS_COMMANDS
from bot.cli.ops import add_parser as add_ops_parser
from bot.cli.ops import require_current_schema
from bot.cli.refusals import refused
from bot.cli.text import UsageError, VietnameseParser
from bot.deadlines import campaign_deadlines
from bot.documents.district import district_to_file
from bot.documents.report_files import export_signed_reports
from bot.documents.workbooks import export_per_unit, export_to_file
from bot.runner import run
from bot.settings import SettingsError, load_settings
from bot.status import status_text, undelivered_line
from bot.unit_import import UnitFileError, read_unit_file
from conversations.campaigns import load_campaign
from conversations.errors import DomainError
from conversations.forms import FormError
from conversations.labels import group_title, level_title
from conversations.messages import format_deadline, format_moment
from conversations.reminder_plan import after_quiet
from exports.consolidation import status_summary
from storage.campaign_life import campaign_facts
from storage.database import DatabaseUrlError
from storage.models import OutboxMessage
from storage.outbox_store import count_failed, requeue_failed, undelivered_rows
from storage.progress import campaign_progress
from storage.repository import (
    SeveralOpen,
    campaign_spec,
    current_campaign,
    list_campaigns,
    list_units,
    replace_units,
    save_campaign,
)
from storage.schema import SchemaError

CAMPAIGN_HELP = "đợt báo cáo (mặc định: đợt đang mở duy nhất)"


def build_parser() -> argparse.ArgumentParser:
    parser = VietnameseParser(
        prog="baocao",
        description="baocao — trợ lý thu thập số liệu báo cáo qua Telegram, Zalo và dòng lệnh.",
        epilog="Cấu hình bằng biến môi trường (xem README). Mặc định dùng SQLite baocao.db.",
    )
    commands = parser.add_actions(dest="command", metavar="LỆNH")

    chat = commands.add_parser("chat", help="điền Phụ lục ngay trong cửa sổ dòng lệnh")
    chat.add_argument("--unit", metavar="MÃ", help="mã đơn vị (bỏ trống để chọn từ danh sách)")
    chat.add_argument(
        "--campaign", metavar="MÃ_ĐỢT", help="đợt báo cáo (mặc định: hỏi khi có nhiều đợt đang mở)"
    )

    commands.add_parser("run", help="chạy bot (Telegram, Zalo, web, nhắc hạn) theo cấu hình")

    units = commands.add_parser("units", help="quản lý danh sách đơn vị")
    units_commands = units.add_actions()
    units_import = units_commands.add_parser("import", help="nhập danh sách từ CSV hoặc XLSX")
    units_import.add_argument("file", metavar="TỆP", help="tệp CSV hoặc XLSX")
    units_list = units_commands.add_parser("list", help="liệt kê đơn vị")
    units_list.add_argument("--json", action="store_true", help="in JSON")

    invite = commands.add_parser("invite", help="tạo mã mời dùng một lần")
    invite.add_argument("unit", nargs="?", metavar="MÃ_ĐƠN_VỊ", help="đơn vị của cán bộ đầu mối")
    invite.add_argument(
        "--role",
        choices=["officer", "secretariat"],
        default="officer",
        help="officer: cán bộ đầu mối của đơn vị (mặc định); secretariat: cán bộ tổng hợp",
    )
    invite.add_argument(
        "--scope",
        metavar="MÃ_ĐƠN_VỊ",
        help="với --role secretariat: cán bộ tổng hợp cấp huyện, chỉ xem đơn vị này và cấp dưới",
    )
    invite.add_argument("--json", action="store_true", help="in JSON")

    web_link = commands.add_parser(
        "web-link", help="in liên kết đăng nhập trang web (dùng một lần, trong 10 phút)"
    )
    web_link.add_argument(
        "--contact", type=int, metavar="SỐ", help="mã số cán bộ tổng hợp (bỏ trống nếu chỉ có một)"
    )

    campaign = commands.add_parser("campaign", help="quản lý đợt báo cáo")
    campaign_commands = campaign.add_actions()
    campaign_load = campaign_commands.add_parser("load", help="nạp hoặc cập nhật từ tệp YAML")
    campaign_load.add_argument("file", metavar="TỆP", help="tệp YAML của đợt báo cáo")
    campaign_list = campaign_commands.add_parser("list", help="liệt kê các đợt báo cáo")
    campaign_list.add_argument("--json", action="store_true", help="in JSON")
    add_campaign_actions(campaign_commands)

    status = commands.add_parser("status", help="tiến độ nộp báo cáo theo đợt")
    status.add_argument("--json", action="store_true", help="in JSON")
    status.add_argument("--campaign", metavar="MÃ_ĐỢT", help=CAMPAIGN_HELP)

    export = commands.add_parser("export", help="xuất bảng Excel")
    target = export.add_mutually_exclusive_group(required=True)
    target.add_argument("--output", "-o", metavar="TỆP.xlsx", help="tệp sẽ ghi")
    target.add_argument(
        "--per-unit",
        metavar="THƯ_MỤC|TỆP.zip",
        help="mỗi đơn vị có số liệu một tệp Phụ lục, vào một thư mục hoặc một tệp .zip",
    )
    target.add_argument(
        "--reports",
        metavar="THƯ_MỤC|TỆP.zip",
        help="báo cáo có chữ ký của mọi đơn vị (đơn vị chưa gửi: dự thảo), vào thư mục hoặc .zip",
    )
    export.add_argument("--unit", metavar="MÃ", help="chỉ Phụ lục của một đơn vị")
    export.add_argument(
        "--scope", metavar="MÃ", help="bảng của một đơn vị (huyện) và các đơn vị trực thuộc"
    )
    export.add_argument("--campaign", metavar="MÃ_ĐỢT", help=CAMPAIGN_HELP)
    export.add_argument("--no-unit-sheets", action="store_true", help="không tạo sheet từng đơn vị")

    report = commands.add_parser("report", help="tạo dự thảo báo cáo Word theo Đề cương")
    report_what = report.add_mutually_exclusive_group(required=True)
    report_what.add_argument("--unit", metavar="MÃ", help="báo cáo của một đơn vị")
    report_what.add_argument(
        "--consolidated", action="store_true", help="báo cáo tổng hợp của Ban Dân vận"
    )
    report_what.add_argument(
        "--scope", metavar="MÃ", help="báo cáo tổng hợp của một đơn vị (huyện) và đơn vị trực thuộc"
    )
    report.add_argument("--output", "-o", required=True, metavar="TỆP.docx")
    report.add_argument("--campaign", metavar="MÃ_ĐỢT", help=CAMPAIGN_HELP)

    remind = commands.add_parser("remind", help="gửi (hoặc liệt kê) tin nhắc hạn ngay bây giờ")
    remind.add_argument("--dry-run", action="store_true", help="chỉ liệt kê, không gửi")
    remind.add_argument("--unit", metavar="MÃ", help="chỉ nhắc một đơn vị")
    remind.add_argument("--campaign", metavar="MÃ_ĐỢT", help=CAMPAIGN_HELP)

    reopen = commands.add_parser("return", help="trả lại báo cáo đã nộp để đơn vị sửa")
    reopen.add_argument("unit", metavar="MÃ_ĐƠN_VỊ", help="đơn vị có báo cáo cần trả lại")
    reopen.add_argument("--reason", default="", metavar="LÝ_DO", help="lý do, báo cho đơn vị")

    approve = commands.add_parser("approve", help="duyệt báo cáo đã nộp (khóa lại)")
    approve.add_argument("unit", metavar="MÃ_ĐƠN_VỊ", help="đơn vị có báo cáo cần duyệt")

    add_inbound_parser(commands)
    add_members_parser(commands)
    add_ops_parser(commands)
    outbox = commands.add_parser("outbox", help="tin nhắn đi chưa gửi được: xem và gửi lại")
    outbox_commands = outbox.add_actions()
    outbox_list = outbox_commands.add_parser("list", help="liệt kê tin nhắn chưa gửi")
    outbox_list.add_argument("--failed", action="store_true", help="chỉ tin đã bỏ cuộc")
    outbox_list.add_argument("--json", action="store_true", help="in JSON")
    outbox_retry = outbox_commands.add_parser("retry", help="xếp lại tin chưa gửi được để gửi")
    outbox_retry.add_argument("ids", nargs="*", type=int, metavar="SỐ", help="số tin nhắn")
    outbox_retry.add_argument("--all-failed", action="store_true", help="mọi tin chưa gửi được")
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
        settings = load_settings()
        if args.command in OPS_COMMANDS:  # they open the database themselves (bot.cli.ops)
            return OPS_COMMANDS[args.command](settings, args)
        if args.command == "run":  # never migrates a database in use: `baocao db upgrade` does
            require_current_schema(settings)
        app = build_app(settings)
        return COMMANDS[args.command](app, args)
    except SeveralOpen as error:
        codes = ", ".join(error.codes)
        print(
            f"baocao: đang mở nhiều đợt báo cáo ({codes}); chọn một: --campaign MÃ_ĐỢT",
            file=sys.stderr,
        )
        return 1
    except DomainError as error:
        return refused(error)
    except (SettingsError, DatabaseUrlError, FormError, UsageError) as error:
        print(f"baocao: {error}", file=sys.stderr)
        return 1
    except (SchemaError, BackupError) as error:
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
    return run_console(
        app.service, unit_code=args.unit, operator=getpass.getuser(), campaign_code=args.campaign
    )


def cmd_run(app: App, args: argparse.Namespace) -> int:
    return run(app)


def cmd_units(app: App, args: argparse.Namespace) -> int:
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
        print(f"{'Mã':<14} {'Cấp':<10} {'Nhóm':<20} Tên đơn vị (↳ đơn vị cấp trên)")
        for r in records:
            parent = f" ↳ {r['parent_code']}" if r["parent_code"] else ""
            level, group = level_title(r["level"]), group_title(r["group"])
            print(f"{r['code']:<14} {level:<10} {group:<20} {r['name']}{parent}")
        print(f"Tổng cộng {len(records)} đơn vị.")
    return 0


def cmd_invite(app: App, args: argparse.Namespace) -> int:
    if args.role == "officer" and not args.unit:
        raise UsageError("cần mã đơn vị, ví dụ: baocao invite HU-NP (hoặc --role secretariat)")
    if args.scope and args.role != "secretariat":
        raise UsageError("--scope chỉ dùng với --role secretariat")
    unit_code = args.unit if args.role == "officer" else args.scope
    with app.database.transaction() as session:
        invite, unit = use_cases.invite(
            session, app.clock(), app.desk, role=args.role, unit_code=unit_code
        )
        record = {
            "code": invite.code,
            "unit": unit.code if unit else None,
            "role": invite.role,
            "expires_at": invite.expires_at.isoformat(),
        }
        card = use_cases.invite_card(session, app.desk, invite, unit)
    link = use_cases.telegram_link(app.desk, invite.code)
    if link:
        record["telegram_link"] = link
    if args.json:
        _print_json(record)
    else:
        print(card)
    return 0


def cmd_web_link(app: App, args: argparse.Namespace) -> int:
    """`baocao web-link [--contact ID]`: the first sign-in to the web page, from the server."""
    now = app.clock()
    with app.database.transaction() as session:
        contact = use_cases.secretariat_contact(session, args.contact)
        link = use_cases.web_sign_in_link(
            session, now, app.desk, contact=contact, actor=use_cases.OPERATOR
        )
        who = contact.display_name or f"#{contact.id}"
    print(f"Liên kết đăng nhập cho {who} (dùng một lần, hết hạn sau 10 phút):")
    print(link)
    return 0


def cmd_campaign(app: App, args: argparse.Namespace) -> int:
    if args.action in CAMPAIGN_ACTIONS:
        return cmd_campaign_action(app, args)
    with app.database.transaction() as session:
        if args.action == "load":
            loaded = load_campaign(args.file)
            campaign = save_campaign(session, loaded, app.clock())
            print(f"Đã nạp đợt báo cáo {campaign.code}: {campaign.title}")
            return 0
        campaigns = list_campaigns(session)
        records = [
            {
                "id": c.id,
                "code": c.code,
                "title": c.title,
                "form": c.form_key,
                "deadline": c.deadline.isoformat(),
                "issued_by": c.issued_by,
                **campaign_facts(session, c),
            }
            for c in campaigns
        ]
    if args.json:
        _print_json(records)
    else:
        for campaign, r in zip(campaigns, records, strict=True):
            deadline = format_deadline(campaign.deadline, ZoneInfo(campaign.timezone))
            print(f"{r['code']:<14} hạn nộp {deadline}  {r['title']}")
    return 0


def cmd_status(app: App, args: argparse.Namespace) -> int:
    now = app.clock()
    records, texts = [], []
    with app.database.transaction() as session:
        for campaign in [current_campaign(session, args.campaign)]:
            progress = campaign_progress(session, campaign)
            deadlines = campaign_deadlines(session, campaign)
            texts.append(status_text(campaign, progress, now, deadlines))
            summary = status_summary(progress, deadlines, now)
            late = set(summary["late"])
            records.append(
                {
                    "campaign": campaign.code,
                    "title": campaign.title,
                    "deadline": campaign.deadline.isoformat(),
                    "timezone": campaign_spec(campaign).timezone,
                    **summary,
                    "units": [
                        {
                            "code": p.unit.code,
                            "name": p.unit.name,
                            "parent_code": p.parent_code,
                            "status": p.status,
                            "late": p.code in late,
                            "deadline": deadlines.of(p.code).isoformat(),
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
        with app.database.transaction() as session:
            warning = undelivered_line(count_failed(session))
        print("\n\n".join(texts + ([warning] if warning else [])))
    return 0


def cmd_export(app: App, args: argparse.Namespace) -> int:
    if args.reports:
        return export_signed_reports(app, args.reports, campaign_code=args.campaign)
    if args.per_unit:
        return export_per_unit(app, args.per_unit, campaign_code=args.campaign)
    if args.scope:
        return district_to_file(
            app, args.output, args.scope, word=False, campaign_code=args.campaign
        )
    return export_to_file(
        app,
        args.output,
        unit_code=args.unit,
        campaign_code=args.campaign,
        unit_sheets=not args.no_unit_sheets,
    )


def cmd_report(app: App, args: argparse.Namespace) -> int:
    from bot.documents.word_reports import report_to_file

    if args.scope:
        return district_to_file(
            app, args.output, args.scope, word=True, campaign_code=args.campaign
        )
    return report_to_file(app, args.output, unit_code=args.unit, campaign_code=args.campaign)


def cmd_remind(app: App, args: argparse.Namespace) -> int:
    """`baocao remind [--dry-run] [--unit CODE]`: queue now, or list what would be queued."""
    now = app.clock()
    if args.dry_run:
        with app.database.transaction() as session:
            campaign, lines = use_cases.remind_preview(
                session, now, unit_code=args.unit, campaign_code=args.campaign
            )
            code = campaign.code  # read before the rollback expires the row
            session.rollback()
        for line in lines:
            print(line)
        print(
            f"(thử) {len(lines)} tin nhắc sẽ được gửi "
            f"cho đợt {code}; chưa gửi gì, không thay đổi gì."
        )
        return 0
    with app.database.transaction() as session:
        count = use_cases.remind(
            session, now, app.desk, unit_code=args.unit, campaign_code=args.campaign
        )
        spec = campaign_spec(current_campaign(session, args.campaign))
    when = after_quiet(now, spec.reminders, spec.zone)
    later = "" if when == now else f" (giờ yên tĩnh: gửi từ {when.astimezone(spec.zone):%H:%M})"
    print(
        f"Đã xếp lịch gửi {count} tin nhắc tới các đơn vị chưa nộp{later}. "
        "Tiến trình `baocao run` sẽ gửi đi."
    )
    return 0


def cmd_return(app: App, args: argparse.Namespace) -> int:
    with app.database.write_transaction() as session:
        unit = use_cases.return_report(
            session, app.clock(), app.desk, unit_code=args.unit, reason=args.reason
        )
    print(f"Đã trả lại báo cáo của {unit.name}.")
    return 0


def cmd_approve(app: App, args: argparse.Namespace) -> int:
    with app.database.write_transaction() as session:
        unit = use_cases.approve_report(session, app.clock(), app.desk, unit_code=args.unit)
    print(f"Đã duyệt báo cáo của {unit.name}.")
    return 0


def cmd_outbox(app: App, args: argparse.Namespace) -> int:
    if args.action == "list":
        with app.database.transaction() as session:
            rows = undelivered_rows(session, failed_only=args.failed)
            records = [_outbox_record(row) for row in rows]
        if args.json:
            _print_json(records)
        elif not records:
            print("Không có tin nhắn nào chưa gửi được." if args.failed else "Hộp thư đi trống.")
        for record in [] if args.json else records:
            print(
                f"#{record['id']} {record['channel']}:{record['chat_id']} {record['status']}, "
                f"{record['attempts']} lần thử, tạo {format_moment(record['created_at'])}"
                f"{' — ' + record['error'] if record['error'] else ''}\n    {record['preview']}"
            )
        return 0
    if args.all_failed == bool(args.ids):
        raise UsageError("cần số tin nhắn, hoặc --all-failed (một trong hai)")
    with app.database.transaction() as session:
        wanted = None if args.all_failed else sorted(set(args.ids))
        requeued = requeue_failed(session, app.clock(), wanted)
        if wanted is not None and requeued != wanted:
            missing = ", ".join(f"#{n}" for n in wanted if n not in requeued)
            raise UsageError(
                f"không gửi lại được {missing}: không có tin nhắn đó, hoặc nó không ở trạng "
                "thái chưa gửi được (đã gửi hay đang gửi). Không tin nào được xếp lại."
            )
    print(
        f"Đã xếp lại {len(requeued)} tin nhắn; bot đang chạy sẽ gửi trong vài giây."
        if requeued
        else "Không có tin nhắn nào chưa gửi được."
    )
    return 0


def _outbox_record(row: OutboxMessage) -> dict:
    text = " ".join(str((row.payload or {}).get("text", "")).split())
    return {
        "id": row.id,
        "channel": row.channel,
        "chat_id": row.chat_id,
        "kind": row.kind,
        "status": row.status,
        "attempts": row.attempts,
        "created_at": row.created_at,
        "error": row.error,
        "preview": text if len(text) <= 80 else text[:79] + "…",
    }


COMMANDS: dict[str, Callable[[App, argparse.Namespace], int]] = {
    "chat": cmd_chat,
    "run": cmd_run,
    "units": cmd_units,
    "invite": cmd_invite,
    "web-link": cmd_web_link,
    "campaign": cmd_campaign,
    "status": cmd_status,
    "export": cmd_export,
    "report": cmd_report,
    "remind": cmd_remind,
    "return": cmd_return,
    "approve": cmd_approve,
    "inbound": cmd_inbound,
    "members": cmd_members,
    "outbox": cmd_outbox,
}

if __name__ == "__main__":
    sys.exit(main())
