"""The console channel: fill a unit's Phụ lục in a terminal, through the same service and engine.

Meant for the operator on the server (and a newcomer's first try): no token, no network. The
operator is trusted, so the console contact is linked to the chosen unit directly. Choices are
shown as numbered lines or keywords, as on Zalo.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from bot import use_cases
from bot.messaging import Inbound, Outbound
from bot.service import Service
from conversations.choices import render_choices_as_text

CHANNEL = use_cases.CONSOLE


def render(outbound: Outbound) -> str:
    choices = render_choices_as_text(outbound.choices, outbound.numbered)
    return outbound.text + (f"\n{choices}" if choices else "")


def choose_unit(service: Service, read: Callable[[], str], out: TextIO) -> str | None:
    with service.database.transaction() as session:
        units = use_cases.unit_choices(session)
    if not units:
        print("Chưa có đơn vị nào. Nhập danh sách: baocao units import TỆP.csv", file=out)
        return None
    print("Chọn đơn vị (gõ số thứ tự hoặc mã đơn vị):", file=out)
    for number, (code, name) in enumerate(units, start=1):
        print(f"{number:>3}. {name} ({code})", file=out)
    while True:
        answer = read().strip()
        if answer.isdigit() and 1 <= int(answer) <= len(units):
            return units[int(answer) - 1][0]
        if answer.upper() in {code.upper() for code, _ in units}:
            return answer
        print("Không có lựa chọn này, gõ lại.", file=out)


def run_console(
    service: Service,
    *,
    unit_code: str | None,
    operator: str,
    campaign_code: str | None = None,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
) -> int:
    def read() -> str:
        line = stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    try:
        unit_code = unit_code or choose_unit(service, read, out)
        if unit_code is None:
            return 1
        with service.database.transaction() as session:
            user_id = use_cases.link_console_contact(
                session, unit_code, operator, service.clock(), campaign_code
            )
        print("(Gõ câu trả lời rồi Enter. «tạm dừng» hoặc Ctrl-D để nghỉ.)", file=out)
        text, sequence = "/tiep", 0
        while True:
            sequence += 1
            inbound_id = f"{user_id}:{service.clock().timestamp():.6f}:{sequence}"
            inbound = Inbound(CHANNEL, user_id, user_id, inbound_id, text=text)
            rows = service.handle(inbound)
            for row in rows:
                print("\n" + render(Outbound.from_payload(row.payload)), file=out)
            with service.database.unit_of_work() as tx:
                use_cases.mark_printed(tx, rows, service.clock())
            print("> ", end="", file=out, flush=True)
            text = read()
    except (EOFError, KeyboardInterrupt):
        print("\nĐã lưu mọi câu trả lời. Chạy lại lệnh để làm tiếp.", file=out)
        return 0
