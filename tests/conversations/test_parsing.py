"""Tests for conversations.parsing: reading officers' chat answers and formatting values."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conversations import answers, parsing
from conversations.answers import DEFAULT_MAXIMUM, KINDS, MAX_ANSWER_CHARS, Parsed, Rejected
from conversations.formatting import format_number, format_percent, format_value, ratio_percent
from conversations.parsing import normalize, parse_answer

VIETNAMESE_MARKS = set("ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ")


def accepted(kind: str, text: str, **kwargs) -> Parsed:
    result = parse_answer(kind, text, **kwargs)
    assert isinstance(result, Parsed), f"{kind} {text!r} was rejected: {result}"
    assert result.echo
    return result


def assert_rejected(result: Parsed | Rejected) -> Rejected:
    assert isinstance(result, Rejected), f"expected a rejection, got {result}"
    assert result.reason.strip()
    assert result.example.startswith("Ví dụ")
    # Vietnamese, with diacritics, in the reason or the example.
    assert VIETNAMESE_MARKS & set((result.reason + result.example).lower())
    return result


# --------------------------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (0, "0"),
        (12, "12"),
        (999, "999"),
        (1234, "1.234"),
        (1234567, "1.234.567"),
        (10_000_000, "10.000.000"),
        (85.5, "85,5"),
        (90.0, "90"),
        (1234.5, "1.234,5"),
        (0.25, "0,25"),
        (-1234, "-1.234"),
    ],
)
def test_format_number(number, expected):
    assert format_number(number) == expected


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (90.0, "90%"),
        (85.5, "85,5%"),
        (66.666, "66,7%"),
        (100, "100%"),
        (0.0, "0%"),
        (33.333333, "33,3%"),
        (88.95, "89%"),
        (88.25, "88,3%"),
        (None, "—"),
    ],
)
def test_format_percent(x, expected):
    assert format_percent(x) == expected


@pytest.mark.parametrize(
    ("done", "total", "expected"),
    [(45, 50, 90.0), (0, 10, 0.0), (10, 10, 100.0), (0, 0, None), (5, 0, None)],
)
def test_ratio_percent(done, total, expected):
    assert ratio_percent(done, total) == expected


def test_ratio_percent_thirds():
    assert ratio_percent(1, 3) == pytest.approx(33.3333, abs=1e-3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Đã Giải Quyết", "da giai quyet"),
        ("  lượt   người\t\n", "luot nguoi"),
        ("ĐƠN\u00a0THƯ", "don thu"),
        ("Tỷ lệ", "ty le"),
        ("Quyết định", "quyet dinh"),
        # Combining (decomposed) diacritics, as some Vietnamese keyboards type them.
        ("Nghi\u0323 quyê\u0301t", "nghi quyet"),
        ("", ""),
    ],
)
def test_normalize(text, expected):
    assert normalize(text) == expected


# --------------------------------------------------------------------------------------------
# integer
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("12", 12),
        ("  12  ", 12),
        ("12.", 12),
        ("012", 12),
        ("1.234", 1234),
        ("1 234", 1234),
        ("1\u00a0234", 1234),
        ("1.234.567", 1234567),
        ("1 234 567", 1234567),
        ("10.000.000", DEFAULT_MAXIMUM),
        ("12 đơn", 12),
        ("12 don", 12),
        ("12đơn", 12),
        ("3 vụ", 3),
        ("5 lượt", 5),
        ("2 cuộc", 2),
        ("4 hội nghị", 4),
        ("4 HỘI NGHỊ", 4),
        ("7 văn bản", 7),
        ("Dạ, 12 đơn ạ.", 12),
        ("Tổng số: 12 đơn", 12),
        ("đã giải quyết 12 vụ việc", 12),
        ("Đơn vị em tổ chức được 2 hội nghị", 2),
    ],
)
def test_integer_accepted(text, expected):
    result = accepted("integer", text)
    assert result.value == {"value": expected}
    assert isinstance(result.value["value"], int)


@pytest.mark.parametrize(
    ("text", "reason_part"),
    [
        ("", "Chưa có"),
        ("   \n\t ", "Chưa có"),
        ("mười hai", "chữ số"),
        ("không có", "nhập 0"),
        ("-5", "âm"),
        ("âm 5", "âm"),
        ("−5", "âm"),
        ("12,5", "số nguyên"),
        ("12,0", "số nguyên"),
        ("1.5", "số nguyên"),
        ("1.23", "số nguyên"),
        ("1.2345", "Chưa đọc được"),
        ("1,234.5", "Chưa đọc được"),
        ("10.000.001", "Số quá lớn"),
        ("99999999999999999999", "Số quá lớn"),
        ("12 nghìn", "chữ số"),
        ("1,5 triệu", "chữ số"),
        ("khoảng 12", "khoảng"),
        ("trên 12", "trên"),
        ("hơn 12 đơn", "hơn"),
        ("12 và 13", "một số"),
        ("45/50", "một số"),
        ("12%", "phần trăm"),
        ("45-50", "“-”"),
        ("😀", "không hợp lệ"),
        ("12 👍", "không hợp lệ"),
        ("１２", "không hợp lệ"),
        ("12" + " " * 10 + "x" * MAX_ANSWER_CHARS, "quá dài"),
        ("1" * (MAX_ANSWER_CHARS + 1), "quá dài"),
        ("abc12", "abc"),
        ("1e5", "một số"),
    ],
)
def test_integer_rejected(text, reason_part):
    result = assert_rejected(parse_answer("integer", text))
    assert reason_part in result.reason


def test_integer_bounds():
    assert accepted("integer", "5", minimum=5).value == {"value": 5}
    assert "từ 5" in assert_rejected(parse_answer("integer", "4", minimum=5)).reason
    assert accepted("integer", "31", maximum=31).value == {"value": 31}
    assert "quá lớn" in assert_rejected(parse_answer("integer", "32", maximum=31)).reason
    assert accepted("integer", "20.000.000", maximum=50_000_000).value == {"value": 20_000_000}


def test_integer_unit_words_are_accepted_and_echoed():
    result = accepted("integer", "12 tiết học", unit="tiết học")
    assert result.value == {"value": 12}
    assert result.echo == "12 tiết học"
    assert_rejected(parse_answer("integer", "12 tiết học"))


# --------------------------------------------------------------------------------------------
# percent
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0.0),
        ("90", 90.0),
        ("90%", 90.0),
        ("90 %", 90.0),
        ("85,5", 85.5),
        ("85,5 %", 85.5),
        ("85,5%.", 85.5),
        ("85,50", 85.5),
        ("85.5", 85.5),
        ("85.5%", 85.5),
        ("0,1", 0.1),
        ("100", 100.0),
        ("100,0%", 100.0),
        ("100.0", 100.0),
        ("85 phần trăm", 85.0),
        ("85 phan tram", 85.0),
        ("Tỷ lệ đạt 92,3%", 92.3),
        ("ti le 50%", 50.0),
    ],
)
def test_percent_accepted(text, expected):
    result = accepted("percent", text)
    assert result.value == {"value": expected}
    assert isinstance(result.value["value"], float)


@pytest.mark.parametrize(
    ("text", "reason_part"),
    [
        ("", "Chưa có"),
        ("%", "Chưa thấy số"),
        ("chín mươi phần trăm", "chữ số"),
        ("85,555", "hai chữ số thập phân"),
        ("85.555", "100%"),
        ("33,333%", "hai chữ số thập phân"),
        ("100,1", "100%"),
        ("101%", "100%"),
        ("1.234", "100%"),
        ("-5%", "âm"),
        ("0.500", "Chưa đọc được"),
        ("45/50", "một tỷ lệ"),
        ("85 90", "một tỷ lệ"),
        ("khoảng 90%", "khoảng"),
        ("trên 90%", "trên"),
        ("90% 🎉", "không hợp lệ"),
        ("9" * (MAX_ANSWER_CHARS + 5), "quá dài"),
    ],
)
def test_percent_rejected(text, reason_part):
    result = assert_rejected(parse_answer("percent", text))
    assert reason_part in result.reason


def test_percent_bounds():
    assert accepted("percent", "80", minimum=50, maximum=90).value == {"value": 80.0}
    assert_rejected(parse_answer("percent", "40", minimum=50))
    assert_rejected(parse_answer("percent", "95", maximum=90))
    # A maximum above 100 never lets a percentage exceed 100.
    assert_rejected(parse_answer("percent", "150", maximum=1000))


# --------------------------------------------------------------------------------------------
# pair
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "times", "people"),
    [
        ("12/345", 12, 345),
        ("12 / 345", 12, 345),
        ("12, 345", 12, 345),
        ("12; 345", 12, 345),
        ("12 và 345", 12, 345),
        ("12 trên 345", 12, 345),
        ("12 lượt, 345 lượt người", 12, 345),
        ("12 luot / 345 luot nguoi", 12, 345),
        ("12 lượt / 345 lượt người", 12, 345),
        ("12 LƯỢT / 345 LƯỢT NGƯỜI.", 12, 345),
        ("12 lượt 345 lượt người", 12, 345),
        ("12 lượt, 345 người", 12, 345),
        ("345 lượt người, 12 lượt", 12, 345),
        ("345 người / 12 lượt", 12, 345),
        ("Tiếp 12 lượt công dân, 345 lượt người", 12, 345),
        ("1.234 lượt / 5.678 lượt người", 1234, 5678),
        ("0/0", 0, 0),
        ("20 lượt / 15 lượt người", 20, 15),
    ],
)
def test_pair_accepted(text, times, people):
    result = accepted("pair", text)
    assert result.value == {"times": times, "people": people}


def test_pair_echo_and_unit():
    assert accepted("pair", "12/345").echo == "12 lượt / 345 lượt người"
    result = accepted("pair", "3 cuộc / 40 người", unit="cuộc/người")
    assert result.value == {"times": 3, "people": 40}
    assert result.echo == "3 cuộc / 40 người"
    assert accepted("pair", "40 người, 3 cuộc", unit="cuộc/người").value == {
        "times": 3,
        "people": 40,
    }


@pytest.mark.parametrize(
    ("text", "reason_part"),
    [
        ("", "Chưa có"),
        ("12", "hai số"),
        ("12 lượt", "hai số"),
        ("12 345", "hai số"),
        ("1/2/3", "hai số"),
        ("12 45", "Chưa rõ"),
        ("12 lượt / 345 lượt", "Chưa rõ"),
        ("12 người, 345 người", "Chưa rõ"),
        ("12 / -3", "âm"),
        ("12,5 / 345", "số nguyên"),
        ("12 / 345%", "phần trăm"),
        ("12 / 20.000.000", "Số quá lớn"),
        ("mười hai lượt", "chữ số"),
        ("khoảng 12 / 345", "khoảng"),
        ("12 ❤ 345", "không hợp lệ"),
        ("12/345" + " lượt" * 60, "quá dài"),
    ],
)
def test_pair_rejected(text, reason_part):
    result = assert_rejected(parse_answer("pair", text))
    assert reason_part in result.reason


# --------------------------------------------------------------------------------------------
# ratio
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "done", "total"),
    [
        ("45/50", 45, 50),
        ("45 / 50", 45, 50),
        ("45 trên 50", 45, 50),
        ("45 tren 50", 45, 50),
        ("45 đơn/50 đơn", 45, 50),
        ("45 đơn / 50 đơn.", 45, 50),
        ("giải quyết 45, tổng 50", 45, 50),
        ("đã giải quyết 45 trên tổng số 50", 45, 50),
        ("da giai quyet 45 tren tong so 50", 45, 50),
        ("giải quyết 45 tổng 50", 45, 50),
        ("tổng 50, giải quyết 45", 45, 50),
        ("Tổng số 50 đơn, đã giải quyết 45 đơn", 45, 50),
        ("50 đơn, trong đó 45 đã giải quyết", 45, 50),
        ("45 vụ việc đã xong, tổng 50", 45, 50),
        ("45/50 đơn, đạt 90%", 45, 50),
        ("45/50 (90%)", 45, 50),
        ("45/50, tỷ lệ 90 phần trăm", 45, 50),
        ("1/3, đạt 33,3%", 1, 3),
        ("1/3 đạt 33%", 1, 3),
        ("2/3 đạt 66.7%", 2, 3),
        ("0/0 đơn, chưa có tỷ lệ", 0, 0),
        ("0/0", 0, 0),
        ("0 / 12", 0, 12),
        ("50/50", 50, 50),
        ("1.234/5.678", 1234, 5678),
        ("1 234 / 5 678", 1234, 5678),
    ],
)
def test_ratio_accepted(text, done, total):
    result = accepted("ratio", text)
    assert result.value == {"done": done, "total": total}


@pytest.mark.parametrize(
    ("text", "unit", "echo"),
    [
        ("45/50", "đơn", "45/50 đơn, đạt 90%"),
        ("45/50", None, "45/50, đạt 90%"),
        ("0/0", "đơn", "0/0 đơn, chưa có tỷ lệ"),
        ("2/3", "vụ", "2/3 vụ, đạt 66,7%"),
        ("1.234/5.000", "đơn", "1.234/5.000 đơn, đạt 24,7%"),
    ],
)
def test_ratio_echo(text, unit, echo):
    assert accepted("ratio", text, unit=unit).echo == echo


@pytest.mark.parametrize(
    ("text", "reason_part"),
    [
        ("", "Chưa có"),
        ("45", "hai số"),
        ("45 đơn", "hai số"),
        ("45/50/60", "hai số"),
        ("50/45", "không được lớn hơn"),
        ("giải quyết 50, tổng 45", "không được lớn hơn"),
        ("45 50", "Chưa rõ"),
        ("45 đơn 50 đơn", "Chưa rõ"),
        ("tổng 45, tổng 50", "Chưa rõ"),
        ("45/50 đạt 80%", "không khớp"),
        ("0/0 đạt 0%", "không khớp"),
        ("45/50 đạt 90% 80%", "một tỷ lệ"),
        ("45-50", "“-”"),
        ("-45/50", "âm"),
        ("45,5/50", "số nguyên"),
        ("45/50.000.001", "Số quá lớn"),
        ("chưa giải quyết 5/50", "chưa"),
        ("khoảng 45/50", "khoảng"),
        ("bốn lăm trên năm mươi", "chữ số"),
        ("45/50 ✅", "không hợp lệ"),
        ("45/50" + " đơn" * 60, "quá dài"),
    ],
)
def test_ratio_rejected(text, reason_part):
    result = assert_rejected(parse_answer("ratio", text))
    assert reason_part in result.reason


def test_ratio_bounds():
    assert_rejected(parse_answer("ratio", "5/200", maximum=100))
    assert accepted("ratio", "5/100", maximum=100).value == {"done": 5, "total": 100}


# --------------------------------------------------------------------------------------------
# documents
# --------------------------------------------------------------------------------------------


def item(raw, number=None, date=None, summary=None):
    return {"raw": raw, "number": number, "date": date, "summary": summary}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "12-KH/HU, ngày 05/03/2024, Kế hoạch tuyên truyền",
            [
                item(
                    "12-KH/HU, ngày 05/03/2024, Kế hoạch tuyên truyền",
                    "12-KH/HU",
                    "2024-03-05",
                    "Kế hoạch tuyên truyền",
                )
            ],
        ),
        (
            "Số 05/QĐ-UBND ngày 5/3/2024 về việc thành lập tổ công tác",
            [
                item(
                    "Số 05/QĐ-UBND ngày 5/3/2024 về việc thành lập tổ công tác",
                    "05/QĐ-UBND",
                    "2024-03-05",
                    "về việc thành lập tổ công tác",
                )
            ],
        ),
        (
            "Kế hoạch số 131-KH/TU ngày 12-01-2023 thực hiện Chỉ thị 05-CT/TW",
            [
                item(
                    "Kế hoạch số 131-KH/TU ngày 12-01-2023 thực hiện Chỉ thị 05-CT/TW",
                    "131-KH/TU",
                    "2023-01-12",
                    "Kế hoạch thực hiện Chỉ thị 05-CT/TW",
                )
            ],
        ),
        (
            "3761-QĐ/TU; 01.02.2024; Quyết định về công tác cán bộ.",
            [
                item(
                    "3761-QĐ/TU; 01.02.2024; Quyết định về công tác cán bộ.",
                    "3761-QĐ/TU",
                    "2024-02-01",
                    "Quyết định về công tác cán bộ",
                )
            ],
        ),
        (
            "- Công văn 123/UBND-VX ngày 5 tháng 3 năm 2024",
            [
                item(
                    "- Công văn 123/UBND-VX ngày 5 tháng 3 năm 2024",
                    "123/UBND-VX",
                    "2024-03-05",
                    "Công văn",
                )
            ],
        ),
        (
            "1. Nghị định 123/2024/NĐ-CP",
            [item("1. Nghị định 123/2024/NĐ-CP", "123/2024/NĐ-CP", None, "Nghị định")],
        ),
        ("12-KH/HU", [item("12-KH/HU", "12-KH/HU")]),
        ("ngày 29/02/2024", [item("ngày 29/02/2024", None, "2024-02-29")]),
        (
            "Báo cáo tổng kết năm",
            [item("Báo cáo tổng kết năm", summary="Báo cáo tổng kết năm")],
        ),
        # Not a real date: stays in the summary.
        (
            "Kế hoạch ngày 31/02/2024",
            [item("Kế hoạch ngày 31/02/2024", summary="Kế hoạch ngày 31/02/2024")],
        ),
        # A date is not a document number.
        (
            "05/03/2024 Thông báo kết luận",
            [item("05/03/2024 Thông báo kết luận", None, "2024-03-05", "Thông báo kết luận")],
        ),
        ("---", [item("---", summary="---")]),
        (
            "  12-KH/HU  \n\n   \n Số 05/QĐ-UBND \r\n Báo cáo\n",
            [
                item("12-KH/HU", "12-KH/HU"),
                item("Số 05/QĐ-UBND", "05/QĐ-UBND"),
                item("Báo cáo", summary="Báo cáo"),
            ],
        ),
    ],
)
def test_documents_accepted(text, expected):
    result = accepted("documents", text)
    assert result.value == {"items": expected}
    assert result.echo.startswith(f"Đã nhận {len(expected)} văn bản")


def test_documents_echo_is_short():
    text = "\n".join(f"{n}-KH/HU ngày 01/02/2024 Kế hoạch {'dài ' * 50}" for n in range(1, 51))
    result = accepted("documents", text)
    assert len(result.value["items"]) == 50
    assert result.echo.startswith("Đã nhận 50 văn bản: 1-KH/HU ngày 01/02/2024;")
    assert "47 văn bản khác" in result.echo
    assert len(result.echo) < 200


@pytest.mark.parametrize(
    ("text", "reason_part"),
    [
        ("", "Chưa có"),
        ("  \n \n\t", "Chưa có"),
        ("Kế hoạch " + "x" * 500, "Dòng thứ 1 quá dài"),
        ("12-KH/HU\n" + "y" * 501, "Dòng thứ 2 quá dài"),
        ("\n".join(f"{n}-KH/HU" for n in range(101)), "Quá nhiều dòng"),
        ("12-KH/HU\x00", "không hợp lệ"),
    ],
)
def test_documents_rejected(text, reason_part):
    result = assert_rejected(parse_answer("documents", text))
    assert reason_part in result.reason


def test_documents_limits_are_inclusive():
    assert accepted("documents", "\n".join(f"{n}-KH/HU" for n in range(100)))
    assert accepted("documents", "z" * 500)


# --------------------------------------------------------------------------------------------
# text
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Đơn vị đã tổ chức 2 hội nghị.", "Đơn vị đã tổ chức 2 hội nghị."),
        ("  có khó khăn\nvề kinh phí  ", "có khó khăn\nvề kinh phí"),
        ("x", "x"),
        ("😀", "😀"),
        ("a" * 2000, "a" * 2000),
    ],
)
def test_text_accepted(text, expected):
    assert accepted("text", text).value == {"value": expected}


@pytest.mark.parametrize(
    ("text", "reason_part"),
    [("", "Chưa có"), (" \n\t ", "Chưa có"), ("a" * 2001, "quá dài"), ("a\x00b", "không hợp lệ")],
)
def test_text_rejected(text, reason_part):
    result = assert_rejected(parse_answer("text", text))
    assert reason_part in result.reason


# --------------------------------------------------------------------------------------------
# format_value
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "unit", "expected"),
    [
        ("integer", {"value": 1234}, None, "1.234"),
        ("integer", {"value": 12}, "đơn", "12 đơn"),
        ("percent", {"value": 85.5}, None, "85,5%"),
        ("percent", {"value": 100.0}, None, "100%"),
        ("pair", {"times": 12, "people": 345}, None, "12 lượt / 345 lượt người"),
        ("pair", {"times": 3, "people": 40}, "cuộc/người", "3 cuộc / 40 người"),
        ("ratio", {"done": 45, "total": 50}, "đơn", "45/50 đơn, đạt 90%"),
        ("ratio", {"done": 45, "total": 50}, None, "45/50, đạt 90%"),
        ("ratio", {"done": 0, "total": 0}, "đơn", "0/0 đơn, chưa có tỷ lệ"),
        (
            "documents",
            {
                "items": [
                    item("x", "12-KH/HU", "2024-03-05", "Kế hoạch"),
                    item("y", None, None, "Báo cáo"),
                ]
            },
            None,
            "12-KH/HU, ngày 05/03/2024, Kế hoạch\nBáo cáo",
        ),
        ("text", {"value": "Không có khó khăn"}, None, "Không có khó khăn"),
    ],
)
def test_format_value(kind, value, unit, expected):
    assert format_value(kind, value, unit=unit) == expected


@pytest.mark.parametrize(
    ("kind", "value"),
    [("nonsense", {"value": 1}), ("integer", {}), ("pair", {"times": 1}), ("ratio", None)],
)
def test_format_value_rejects_programming_errors(kind, value):
    with pytest.raises(ValueError):
        format_value(kind, value)


# --------------------------------------------------------------------------------------------
# Never raises
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["", "number", "INTEGER", None])
def test_unknown_kind_is_rejected(kind):
    assert_rejected(parse_answer(kind, "12"))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("text", [None, 12, b"12"])
def test_non_string_input_is_rejected(kind, text):
    assert isinstance(parse_answer(kind, text), Rejected)


ANSWER_TEXT = st.one_of(
    st.text(),
    st.text(alphabet="0123456789.,/% -−ntrêđơlượgiảquyếttổngsố\u00a0😀\n", max_size=60),
    st.text(min_size=150, max_size=700),
)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ANSWER_TEXT)
def test_parse_never_raises(kind, text):
    # The internal parser, without the last-resort guard, so a bug is not hidden.
    result = parsing._parse(kind, text, None, None, None)
    assert isinstance(result, Parsed | Rejected)
    assert parse_answer(kind, text) == result
    if isinstance(result, Rejected):
        assert result.reason and result.example


# --------------------------------------------------------------------------------------------
# Round trips: parse_answer(kind, format_value(kind, v)).value == v
# --------------------------------------------------------------------------------------------

COUNTS = st.integers(min_value=0, max_value=DEFAULT_MAXIMUM)
UNITS = st.sampled_from([None, "đơn", "vụ", "lượt", "hội nghị", "văn bản", "tiết học"])


@settings(max_examples=200, deadline=None)
@given(n=COUNTS, unit=UNITS)
def test_integer_round_trip(n, unit):
    value = {"value": n}
    assert accepted("integer", format_value("integer", value, unit=unit), unit=unit).value == value


@settings(max_examples=200, deadline=None)
@given(tenths=st.integers(min_value=0, max_value=1000))
def test_percent_round_trip(tenths):
    value = {"value": tenths / 10}
    assert accepted("percent", format_value("percent", value)).value == value


@settings(max_examples=200, deadline=None)
@given(
    times=COUNTS,
    people=COUNTS,
    unit=st.sampled_from([None, "lượt/lượt người", "cuộc/người", "buổi/lượt người"]),
)
def test_pair_round_trip(times, people, unit):
    value = {"times": times, "people": people}
    assert accepted("pair", format_value("pair", value, unit=unit), unit=unit).value == value


@settings(max_examples=200, deadline=None)
@given(data=st.data(), total=COUNTS, unit=UNITS)
def test_ratio_round_trip(data, total, unit):
    done = data.draw(st.integers(min_value=0, max_value=total))
    value = {"done": done, "total": total}
    assert accepted("ratio", format_value("ratio", value, unit=unit), unit=unit).value == value


@settings(max_examples=200, deadline=None)
@given(text=st.text(min_size=1, max_size=2000))
def test_text_round_trip(text):
    parsed = parse_answer("text", text)
    assume(isinstance(parsed, Parsed))
    assert accepted("text", format_value("text", parsed.value)).value == parsed.value


DOCUMENT_PIECES = st.sampled_from(
    [
        "12-KH/HU",
        "Số 05/QĐ-UBND",
        "số 131-KH/TU",
        "3761-QĐ/TU",
        "123/2024/NĐ-CP",
        "ngày 05/03/2024",
        "5/3/2024",
        "29.02.2024",
        "31/02/2024",
        "ngày 5 tháng 3 năm 2024",
        "Kế hoạch",
        "tuyên truyền",
        "về việc",
        ",",
        ";",
        "-",
        ":",
        "1.",
        "(2)",
        "ngày",
        "Số",
        "2021-2025",
        "  ",
    ]
)
DOCUMENT_LINE = st.one_of(
    st.lists(DOCUMENT_PIECES, min_size=1, max_size=8).map(" ".join),
    st.lists(DOCUMENT_PIECES | st.text(max_size=6), min_size=1, max_size=8).map("".join),
    st.text(min_size=1, max_size=200),
)


def document_fields(value):
    return [(i["number"], i["date"], i["summary"]) for i in value["items"]]


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(DOCUMENT_LINE, min_size=1, max_size=6))
def test_documents_round_trip(lines):
    parsed = parse_answer("documents", "\n".join(lines))
    assume(isinstance(parsed, Parsed))
    formatted = format_value("documents", parsed.value)
    # Formatting may add "ngày " and separators: only lines still within the limit count.
    assume(all(len(line) <= answers.MAX_DOCUMENT_LINE_CHARS for line in formatted.splitlines()))
    again = accepted("documents", formatted)
    assert document_fields(again.value) == document_fields(parsed.value)


# --------------------------------------------------------------------------------------------
# normalize
# --------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(text=st.text())
def test_normalize_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once
    assert once == once.strip()
    assert "  " not in once


@pytest.mark.parametrize("text", ["5", "3 văn bản", "(2) 12", "Kế hoạch 12-KH/HU\n7"])
def test_a_count_typed_where_documents_are_asked_is_refused(text):
    rejected = parse_answer("documents", text)
    assert isinstance(rejected, Rejected)
    assert "không phải số lượng" in rejected.reason
