"""The one letterhead: who issues and signs a printed document, and the one rule for a unit's.

Every sheet (`exports.heading` places it on a worksheet) and every Word draft
(`exports.report_docx`) takes its heading from here, so a unit's Phụ lục and its Word report
always carry the same heading, number and signer. All words come from the campaign file's
`document` and the unit list; where the unit list leaves a column empty the rule below derives
it from the unit's name, its level and the unit above it (Hướng dẫn 36-HD/VPTW):

* body: the unit list's `heading_name`, else the unit's name without "Ban Thường vụ";
* superior: the unit list's `superior`, else the body of the unit above it ("Huyện ủy Ninh
  Phước" → "Đảng bộ huyện Ninh Phước"), else "Đảng bộ tỉnh <place>";
* ký hiệu (`symbol`, as in "Số …-BC/HU"): the unit list's `symbol`, else from the kind of body
  (Huyện ủy → HU, Thành ủy → TU, Đảng ủy → ĐU, Chi bộ → CB, …), else from the unit's level;
* signer: the unit list's `signer_for`/`signer_title`, else from the kind of body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from exports.data import CampaignInfo, UnitReport

PARTY_NAME = "ĐẢNG CỘNG SẢN VIỆT NAM"
BLANK = "…"

# (start of the body's name, ký hiệu, who signs on behalf): the first match wins.
_KINDS = (
    ("ban thường vụ", None, "T/M BAN THƯỜNG VỤ"),
    ("ban cán sự đảng", "BCSĐ", "T/M BAN CÁN SỰ ĐẢNG"),
    ("đảng đoàn", "ĐĐ", "T/M ĐẢNG ĐOÀN"),
    ("huyện ủy", "HU", "T/M BAN THƯỜNG VỤ"),
    ("thị ủy", "TU", "T/M BAN THƯỜNG VỤ"),
    ("thành ủy", "TU", "T/M BAN THƯỜNG VỤ"),
    ("tỉnh ủy", "TU", "T/M BAN THƯỜNG VỤ"),
    ("đảng ủy", "ĐU", "T/M ĐẢNG ỦY"),
    ("chi bộ", "CB", "T/M CHI BỘ"),
    ("ban dân vận", "BDV", ""),
)
_LEVEL_SYMBOLS = {"tinh": "TU", "so_nganh": "ĐU", "huyen": "HU", "xa": "ĐU"}
_BLANKS = re.compile(r"\s{2,}|^\s*(?=-)")
_PARTY_OF = (("Huyện ủy ", "Đảng bộ huyện "), ("Thành ủy ", "Đảng bộ thành phố "))


@dataclass(frozen=True)
class Letterhead:
    """Who issues one document and who signs it."""

    superior: str  # the superior body, e.g. "ĐẢNG BỘ TỈNH NINH THUẬN"
    body: str  # the issuing body, e.g. "HUYỆN ỦY NINH PHƯỚC"
    place: str  # where it is issued, e.g. "Ninh Phước"
    symbol: str = ""  # ký hiệu of the body: "HU" in "Số …-BC/HU"
    party: str = PARTY_NAME
    number: str = ""  # "Số …-BC/HU"; empty: none printed
    recipients: tuple[str, ...] = ()
    signer_for: str = ""  # "T/M BAN THƯỜNG VỤ"
    signer_title: str = ""  # "BÍ THƯ"
    signer_name: str = ""
    issuer: str = ""  # the body as a sentence names it: "Huyện ủy Ninh Phước"

    @property
    def report_number(self) -> str:
        """ "Số …-BC/HU": the number left blank, to be filled in by hand."""
        return self.number or f"Số {BLANK}-BC/{self.symbol or BLANK}"

    def date_line(self, now: datetime) -> str:
        """ "Ninh Thuận, ngày     tháng     năm 2022": day and month left for the signer."""
        place = f"{self.place}, " if self.place else ""
        return f"{place}ngày     tháng     năm {now.year}"

    def attached_line(self, year: int) -> str:
        """The line under an annex's title: "(Kèm theo Báo cáo số …-BC/HU, ngày … tháng …
        năm 2022 của Huyện ủy Ninh Phước)"."""
        number = _BLANKS.sub(BLANK, self.report_number.removeprefix("Số ").strip())
        who = f" của {self.issuer}" if self.issuer else ""
        return f"(Kèm theo Báo cáo số {number}, ngày {BLANK} tháng {BLANK} năm {year}{who})"


def issuing_body(name: str) -> str:
    """The body a unit issues as: "Ban Thường vụ Huyện ủy Ninh Phước" -> "Huyện ủy Ninh Phước"."""
    prefix = "Ban Thường vụ "
    return name[len(prefix) :] if name.casefold().startswith(prefix.casefold()) else name


def default_symbol(name: str, level: str | None = None) -> str:
    """The ký hiệu a body's documents carry when the unit list gives none: "HU", "ĐU", …"""
    body = issuing_body(name).casefold()
    for start, symbol, _ in _KINDS:
        if symbol and body.startswith(start):
            return symbol
    return _LEVEL_SYMBOLS.get(level or "", "")


def _signer_for(name: str) -> str | None:
    folded = name.casefold()
    return next((words for start, _, words in _KINDS if words and folded.startswith(start)), None)


def unit_letterhead(info: CampaignInfo, unit: UnitReport) -> Letterhead:
    """A unit's heading and signer: the unit list's columns, else the rule above."""
    doc, own = info.document, unit.heading
    issuer = issuing_body(unit.name)
    body = own.heading_name or issuer
    superior = own.superior or (f"Đảng bộ tỉnh {doc.place}" if doc.place else "")
    if not own.superior and unit.parent_name:
        superior = issuing_body(unit.parent_name)
        for head, party in _PARTY_OF:
            if superior.startswith(head):
                superior = party + superior[len(head) :]
    signer_for = (
        own.signer_for or _signer_for(unit.name) or doc.unit_signer_for or f"T/M {body.upper()}"
    )
    receiver = info.receiver
    recipients = tuple(doc.unit_recipients) or (
        (f"{receiver} (báo cáo),", "Lưu.") if receiver else ("Lưu.",)
    )
    return Letterhead(
        superior=superior.upper(),
        body=body.upper(),
        place=own.place or doc.place,
        symbol=own.symbol or default_symbol(unit.name, unit.level),
        party=doc.party or PARTY_NAME,
        recipients=recipients,
        signer_for=signer_for,
        signer_title=own.signer_title or "BÍ THƯ",
        issuer=issuer,
    )


def secretariat_letterhead(info: CampaignInfo) -> Letterhead:
    """The Ban Dân vận's heading and signer, from the campaign file's `document`."""
    doc = info.document
    body = doc.body or info.receiver
    _, found, symbol = doc.number.partition("-BC/")
    return Letterhead(
        superior=doc.superior.upper(),
        body=body.upper(),
        place=doc.place,
        symbol=symbol.strip() if found else default_symbol(body),
        party=doc.party or PARTY_NAME,
        number=doc.number,
        recipients=tuple(doc.recipients) or ("Lưu.",),
        signer_for=doc.signer_for,
        signer_title=doc.signer_title,
        signer_name=doc.signer_name,
        issuer=info.receiver or body,
    )
