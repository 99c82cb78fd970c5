"""The words and marks an answer with numbers may carry, and the reasons one is refused.

Data for the number readers in `conversations.parsing`: the lexer's pattern, how thousands and
decimals may be written, the phrases accepted around a number by kind (units, polite
particles, role words such as "giải quyết" or "tổng"), the words that would change the meaning
of a number ("nghìn", "âm"), and the short Vietnamese reasons. Phrases are written as
`conversations.parsing.normalize` leaves them: lowercase, without diacritics.
"""

from __future__ import annotations

import re

# --------------------------------------------------------------------------------------------
# Number messages
# --------------------------------------------------------------------------------------------

NO_DIGITS = (
    "Chưa thấy số nào trong câu trả lời. Vui lòng ghi bằng chữ số (nếu không có thì nhập 0)."
)
NEGATIVE = "Số không được âm."
TOO_LARGE = "Số quá lớn, vui lòng kiểm tra lại."
NEED_INTEGER = "Cần một số nguyên (không có phần thập phân)."
ONE_NUMBER = "Chỉ cần nhập một số."


# --------------------------------------------------------------------------------------------
# Numbers: lexing and vocabulary
# --------------------------------------------------------------------------------------------

LEX_RE = re.compile(
    r"(?P<num>[0-9]+(?:[.,][0-9]+)*)"
    r"|(?P<word>[a-z]+)"
    r"|(?P<punct>[/%,;:()=.\-])"
    r"|(?P<space>\s)"
    r"|(?P<other>.)",
    re.S,
)
# "1 234 567" -> "1234567"; a group starting with 0 or touching a decimal is not grouping.
SPACE_GROUP_RE = re.compile(r"(?<![0-9.,])[1-9][0-9]{0,2}(?: [0-9]{3})+(?![0-9]|[.,][0-9])")
PLAIN_INT_RE = re.compile(r"[0-9]+")
DOT_GROUPED_RE = re.compile(r"[1-9][0-9]{0,2}(?:\.[0-9]{3})+")
COMMA_DECIMAL_RE = re.compile(r"([1-9][0-9]{0,2}(?:\.[0-9]{3})+|[0-9]+),([0-9]+)")
DOT_DECIMAL_RE = re.compile(r"([0-9]+)\.([0-9]{1,2})")
DASHES = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-", "\u2010": "-"})
WORD_WITH_MARKS_RE = re.compile(r"[^\W\d_]+")


def phrases(*items: str) -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(item.split()) for item in items)


# Unit words, polite particles and harmless fillers, accepted around any number.
COMMON_PHRASES = phrases(
    # units
    "don", "don thu", "thu", "vu", "vu viec", "viec", "luot", "luot nguoi", "nguoi",
    "cuoc", "hoi nghi", "van ban", "buoi", "lop", "tin", "bai", "tin bai", "bai viet",
    "phien", "lan", "ho so", "truong hop", "to chuc", "dang vien", "co so", "co quan",
    "don vi", "kien nghi", "phan anh", "khieu nai", "to cao", "de an", "ke hoach",
    "chuong trinh", "nghi quyet", "quyet dinh", "chi thi", "thong bao", "cong van", "dot",
    "diem", "tai lieu", "hoat dong", "cuon", "chiec", "cai", "nhom", "doan", "dong chi",
    "can bo", "hoc vien", "thanh vien", "ho", "chi bo", "dang bo", "noi dung", "cong trinh",
    "du an", "mo hinh", "chuyen de", "dau moi", "tap the", "ca nhan",
    # fillers and polite particles
    "da", "a", "vang", "nhe", "nha", "ok", "oke", "la", "co", "duoc", "so", "tong",
    "tong so", "tong cong", "dat", "ket qua", "hien nay", "tiep", "tiep nhan", "cong dan",
    "tiep cong dan", "giai quyet", "xu ly", "xong", "hoan thanh", "thuc hien", "trong ky",
    "ky nay", "ky bao cao", "bao cao", "ban hanh", "gom", "tat ca", "em", "anh", "chi",
    "toi", "xin", "gui", "kinh gui", "cua", "don vi em",
)  # fmt: skip
PAIR_RATIO_PHRASES = phrases("tren", "va", "tren tong so", "trong tong so", "trong do")
PERCENT_PHRASES = phrases("phan tram", "ty le", "ti le")
RATIO_ONLY_PHRASES = phrases("chua co ty le", "chua co ti le")
KIND_PHRASES = {
    "integer": COMMON_PHRASES,
    "percent": COMMON_PHRASES | PERCENT_PHRASES,
    "pair": COMMON_PHRASES | PAIR_RATIO_PHRASES,
    "ratio": COMMON_PHRASES | PAIR_RATIO_PHRASES | PERCENT_PHRASES | RATIO_ONLY_PHRASES,
}
MULTIPLIERS = frozenset({"nghin", "ngan", "trieu", "ty", "ti", "tram", "chuc", "van", "muoi"})
NEGATIVE_WORDS = frozenset({"am", "tru"})

RATIO_DONE = phrases("giai quyet", "xong", "hoan thanh", "xu ly", "trong do", "ket thuc")
RATIO_TOTAL = phrases("tong")
PAIR_SEPARATOR_WORDS = frozenset({"tren", "va"})
PAIR_SEPARATOR_PUNCT = frozenset({"/", ",", ";", ":"})
