"""The outbox payload keeps everything an `Outbound` says, whatever fields a choice grows."""

from dataclasses import fields

from bot.messaging import Attachment, Outbound
from conversations.choices import CHOICES, Choice


def test_payload_round_trip_keeps_every_field():
    custom = Choice(**{f.name: f"{f.name}-giá trị" for f in fields(Choice)})
    outbound = Outbound(
        "Câu 3/24 — «Đơn thư» <b>",
        (CHOICES["skip"], custom),
        context="q:petitions",
        numbered=True,
        attachment=Attachment(7, "HU-NP"),
    )
    assert Outbound.from_payload(outbound.to_payload()) == outbound


def test_plain_text_round_trip():
    outbound = Outbound("Đã nộp báo cáo.")
    assert Outbound.from_payload(outbound.to_payload()) == outbound
