"""The safe expression subset (constraints, `relevant`, `calculate`) and the XLSForm answer kinds:
parsed into a tree and evaluated without `eval`; anything outside the subset is refused."""

from __future__ import annotations

import pytest

from conversations.answers import Rejected
from conversations.constraints import constraint_refusal
from conversations.expressions import ExpressionError, parse_expression
from conversations.forms import Question
from conversations.typed_answers import parse_typed


@pytest.mark.parametrize(
    ("text", "dot", "values", "expected"),
    [
        (". >= 0 and . <= 100", 50, {}, True),
        (". >= 0 and . <= 100", 101, {}, False),
        (". < 5 or . > 10", 7, {}, False),
        (". != 3", 3, {}, False),
        (". <= ${total}", 4, {"total": 5}, True),
        (". <= ${total}", 6, {"total": 5}, False),
        (". <= ${total}", 6, {}, False),  # unanswered: the comparison does not hold
        ("regex(., '^[0-9]{2}-[A-Z]+$')", "12-KH", {}, True),
        ("regex(., '^[0-9]{2}-[A-Z]+$')", "KH-12", {}, False),
        ("selected(., 'hop')", ["loa", "hop"], {}, True),
        ("count-selected(.) >= 2", ["loa"], {}, False),
        ("string-length(.) <= 3", "abcd", {}, False),
        ("not(. = 'no')", "yes", {}, True),
        ("${unit_level} = 'xa' or ${unit_level} = 'huyen'", None, {"unit_level": "huyen"}, True),
        ("(${a} + ${b}) * 2 = 10", None, {"a": 2, "b": 3}, True),
        ("${a} div ${b} = 0.5", None, {"a": 1, "b": 2}, True),
        ("-. < 0", 3, {}, True),
    ],
)
def test_expressions_hold_or_not(text, dot, values, expected):
    assert parse_expression(text).holds(dot, values) is expected


def test_a_calculation_and_its_references():
    expression = parse_expression("${budget} div ${meetings}")
    assert expression.references == {"budget", "meetings"}
    assert expression.evaluate(None, {"budget": 30.5, "meetings": 12}) == pytest.approx(
        2.5417, 1e-3
    )
    assert expression.evaluate(None, {"budget": 1, "meetings": 0}) is None  # no division by zero
    assert expression.evaluate(None, {"budget": 1}) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("__import__('os').system('ls')", "ký tự không hỗ trợ"),
        ("os.system('ls')", "chưa được hỗ trợ"),
        ("today() > .", "chưa được hỗ trợ"),
        (". >= ", "thiếu ở cuối"),
        ("(. > 1", "thiếu «)»"),
        (". > 1 )", "không hiểu phần"),
        ("regex(., '[')", "mẫu regex «[» không hợp lệ"),
        ("regex(., ${x})", "regex() cần mẫu là một chuỗi"),
        ("selected(.)", "hàm selected() cần 2 đối số"),
        (". ; 1", "ký tự không hỗ trợ"),
        ("", "biểu thức trống"),
        ("1" * 600, "biểu thức dài quá 500 ký tự"),
    ],
)
def test_anything_outside_the_subset_is_refused(text, reason):
    with pytest.raises(ExpressionError) as refused:
        parse_expression(text)
    assert reason in str(refused.value)


def _question(kind: str, **more) -> Question:
    return Question(key="q", section="1", label="Câu", type=kind, **more)


CHOICES = [{"name": "loa", "label": "Loa truyền thanh"}, {"name": "hop", "label": "Họp dân"}]


@pytest.mark.parametrize(
    ("kind", "more", "text", "value"),
    [
        ("decimal", {}, "12,5", {"value": 12.5}),
        ("decimal", {}, "1.234,5", {"value": 1234.5}),
        ("decimal", {}, "7", {"value": 7.0}),
        ("date", {}, "05/7/2022", {"value": "2022-07-05"}),
        ("date", {}, "ngày 5-7-2022", {"value": "2022-07-05"}),
        ("select_one", {"choices": CHOICES}, "2", {"value": "hop", "label": "Họp dân"}),
        ("select_one", {"choices": CHOICES}, "hop dan", {"value": "hop", "label": "Họp dân"}),
        (
            "select_multiple",
            {"choices": CHOICES},
            "2 và 1",
            {"values": ["loa", "hop"], "labels": ["Loa truyền thanh", "Họp dân"]},
        ),
        (
            "list",
            {
                "fields": [
                    {"key": "name", "label": "Tên"},
                    {"key": "n", "label": "Số", "kind": "integer"},
                ]
            },
            "Tập huấn; 12",
            {"items": [{"raw": "Tập huấn; 12", "name": "Tập huấn", "n": 12}]},
        ),
    ],
)
def test_typed_answers_are_read(kind, more, text, value):
    parsed = parse_typed(_question(kind, **more), text)
    assert not isinstance(parsed, Rejected), parsed
    assert parsed.value == value


@pytest.mark.parametrize(
    ("kind", "more", "text", "reason"),
    [
        ("decimal", {}, "khoảng 12", "Cần một số"),
        ("decimal", {"maximum": 10}, "12", "Số phải trong khoảng 0 đến 10"),
        ("date", {}, "30/02/2022", "Ngày này không có thật"),
        ("date", {}, "hôm qua", "Cần một ngày"),
        ("select_one", {"choices": CHOICES}, "3", "Chưa có lựa chọn này"),
        ("select_multiple", {"choices": CHOICES}, "1, tivi", "Chưa có lựa chọn «tivi»"),
        (
            "list",
            {"fields": [{"key": "a", "label": "A"}, {"key": "b", "label": "B"}]},
            "x",
            "Dòng 1",
        ),
    ],
)
def test_typed_answers_are_refused_in_vietnamese(kind, more, text, reason):
    parsed = parse_typed(_question(kind, **more), text)
    assert isinstance(parsed, Rejected) and reason in parsed.reason


def test_a_constraint_gives_its_message():
    question = _question(
        "integer", constraint=". <= 500 and . != 13", constraint_message="Không quá 500, khác 13"
    )
    assert constraint_refusal(question, {"value": 12}, "xa") is None
    assert constraint_refusal(question, {"value": 13}, "xa") == "Không quá 500, khác 13"
    bare = _question("text", constraint="string-length(.) <= 5")
    assert "không đúng điều kiện" in constraint_refusal(bare, {"value": "dài quá"}, "xa")
