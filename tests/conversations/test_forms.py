"""Tests for conversations.forms: the bundled CT37 Phụ lục as data, and the loader's FormError
for every kind of broken form file (one line naming the file, the question key and the problem).
"""

from __future__ import annotations

import copy
import gc
import pickle
import weakref
from pathlib import Path

import pytest
import yaml

from conversations import forms
from conversations.forms import (
    BUNDLED_FORMS,
    Form,
    FormError,
    QuestionKind,
    level_questions,
    load_form,
    memo,
    parse_form,
)

CT37_PATH = BUNDLED_FORMS / "ct37_phuluc.yaml"

# FORM-CT37.md, table "Questions": key -> (section, type, levels).
CT37_QUESTIONS = {
    "docs_party": ("1", "documents", []),
    "docs_state": ("1", "documents", []),
    "inspection_teams": ("2", "integer", []),
    "inspected_units": ("2", "integer", []),
    "one_stop_district_pct": ("3", "percent", ["tinh"]),
    "one_stop_dept_pct": ("3", "percent", ["tinh"]),
    "online_services_l34": ("3", "integer", []),
    "online_services_l4": ("3", "integer", []),
    "satisfaction_pct": ("3", "percent", []),
    "reception_local_regular": ("4.1", "pair", ["tinh", "huyen", "so_nganh"]),
    "reception_local_adhoc": ("4.1", "pair", ["tinh", "huyen", "so_nganh"]),
    "reception_province_regular": ("4.1", "pair", ["tinh"]),
    "reception_province_adhoc": ("4.1", "pair", ["tinh"]),
    "dialogue_province_party": ("4.2", "integer", ["tinh"]),
    "dialogue_province_gov": ("4.2", "integer", ["tinh"]),
    "dialogue_district_party": ("4.2", "integer", ["tinh", "huyen"]),
    "dialogue_district_gov": ("4.2", "integer", ["tinh", "huyen"]),
    "dialogue_commune_party": ("4.2", "integer", ["tinh", "huyen", "xa"]),
    "dialogue_commune_gov": ("4.2", "integer", ["tinh", "huyen", "xa"]),
    "complaints": ("4.3", "ratio", []),
    "denunciations": ("4.4", "ratio", []),
    "complex_cases": ("4.5", "ratio", []),
    "supervisions": ("5", "integer", []),
    "criticism_conferences": ("5", "integer", []),
}


@pytest.fixture(scope="module")
def ct37() -> Form:
    return load_form(CT37_PATH)


# --- the bundled form -----------------------------------------------------------------------


def test_bundled_form_has_every_question_of_the_phu_luc_in_order(ct37):
    assert [q.key for q in ct37.questions] == list(CT37_QUESTIONS)
    assert len(ct37.questions) == 24


@pytest.mark.parametrize("key", list(CT37_QUESTIONS))
def test_bundled_question_section_type_and_levels(ct37, key):
    section, kind, levels = CT37_QUESTIONS[key]
    question = ct37.question(key)
    assert question.section == section
    assert question.kind is QuestionKind(kind)
    assert sorted(question.levels) == sorted(levels)
    assert question.label.strip()


def test_bundled_form_by_bare_name_is_the_same_form(ct37):
    assert load_form("ct37_phuluc.yaml") == ct37


def test_bundled_form_units_and_sections(ct37):
    assert ct37.question("complaints").unit == "đơn"
    assert ct37.question("denunciations").unit == "đơn"
    assert ct37.question("complex_cases").unit == "vụ"
    assert [s.key for s in ct37.sections] == [
        "1", "2", "3", "4", "4.1", "4.2", "4.3", "4.4", "4.5", "5",
    ]  # fmt: skip
    assert ct37.top_section("4.3").key == "4"
    assert ct37.levels == ["tinh", "so_nganh", "huyen", "xa"]
    assert ct37.submit_incomplete == "confirm"


def test_bundled_rule_online_services_l4_at_most_l34(ct37):
    rules = {q.key: q.rules for q in ct37.questions if q.rules}
    assert list(rules) == ["online_services_l4"]
    (rule,) = rules["online_services_l4"]
    assert rule.lte == "online_services_l34"
    assert rule.gte is None
    assert rule.message


@pytest.mark.parametrize(
    ("level", "count"), [("tinh", 24), ("huyen", 18), ("xa", 14), ("so_nganh", 14)]
)
def test_levels_limit_the_questions(ct37, level, count):
    assert len(ct37.questions_for(level)) == count


def test_commune_is_never_asked_province_or_district_questions(ct37):
    keys = {q.key for q in ct37.questions_for("xa")}
    never = {
        k for k in CT37_QUESTIONS if k.startswith(("reception_province_", "dialogue_province_"))
    }
    never |= {"dialogue_district_party", "dialogue_district_gov"}
    assert len(never) == 6
    assert not keys & never
    assert {"dialogue_commune_party", "dialogue_commune_gov", "complaints"} <= keys


def test_district_is_not_asked_province_questions_but_province_gets_all(ct37):
    huyen = {q.key for q in ct37.questions_for("huyen")}
    assert not any(k.startswith(("reception_province_", "dialogue_province_")) for k in huyen)
    assert {"dialogue_district_party", "dialogue_district_gov"} <= huyen
    assert {q.key for q in ct37.questions_for("tinh")} == set(CT37_QUESTIONS)


# --- lookups built once per form -----------------------------------------------------------


def test_lookups_answer_like_a_scan_of_the_lists(ct37):
    for question in ct37.questions:
        assert ct37.question(question.key) is question
    for section in ct37.sections:
        assert ct37.section(section.key) is section
    with pytest.raises(KeyError):
        ct37.question("absent")
    for level in [*ct37.levels, "unknown"]:
        scanned = [q for q in ct37.questions if q.applies_to(level)]
        assert ct37.questions_for(level) == scanned
        assert list(level_questions(ct37, level)) == scanned


def test_questions_for_is_a_fresh_list_the_caller_may_change(ct37):
    ct37.questions_for("xa").clear()
    assert len(ct37.questions_for("xa")) == 14


def test_each_form_object_has_its_own_lookups_and_memo(ct37):
    raw = bundled_raw()
    question_of(raw, "complaints").update(label="Đơn khiếu nại (mẫu khác)", levels=["tinh"])
    other = parse_form(raw)
    memo(ct37)["probe"] = "ct37"
    assert "probe" not in memo(other)
    assert other.question("complaints").label == "Đơn khiếu nại (mẫu khác)"
    assert ct37.question("complaints").label != other.question("complaints").label
    assert len(other.questions_for("xa")) == len(ct37.questions_for("xa")) - 1
    assert "probe" not in memo(ct37.model_copy())


def test_lookups_follow_a_replaced_question_list():
    form = load_form("ct37_phuluc.yaml")
    memo(form)["probe"] = 1
    renamed = form.question("complaints").model_copy(update={"label": "Đổi tên"})
    form.questions = [renamed if q.key == "complaints" else q for q in form.questions]
    assert form.question("complaints").label == "Đổi tên"
    assert renamed in level_questions(form, "xa")
    assert "probe" not in memo(form)
    copied = form.model_copy(update={"questions": form.questions[:3]})
    assert len(copied.questions_for("tinh")) == 3


def test_lookups_leave_equality_and_pickling_alone_and_go_with_the_form(ct37):
    form = load_form("ct37_phuluc.yaml")
    form.questions_for("huyen")
    memo(form)["probe"] = 1
    assert form == ct37
    assert pickle.loads(pickle.dumps(form)) == form
    key, alive = id(form), weakref.ref(form)
    assert key in forms._LOOKUPS
    del form
    gc.collect()
    assert alive() is None
    assert key not in forms._LOOKUPS


def bundled_raw() -> dict:
    return yaml.safe_load(CT37_PATH.read_text(encoding="utf-8"))


def question_of(raw: dict, key: str) -> dict:
    return next(q for q in raw["questions"] if q["key"] == key)


def write(tmp_path: Path, raw: object, name: str = "broken.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def form_error(path: Path) -> str:
    with pytest.raises(FormError) as caught:
        load_form(path)
    message = str(caught.value)
    assert "\n" not in message, message
    assert str(path) in message
    return message


def test_the_unmodified_copy_loads(tmp_path):
    assert len(load_form(write(tmp_path, bundled_raw())).questions) == 24


def test_bad_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("key: ct37\nquestions: [\n  - {key: a, section: '1'\n", encoding="utf-8")
    assert "YAML" in form_error(path)


def test_missing_file_is_a_form_error(tmp_path):
    assert "không tìm thấy" in form_error(tmp_path / "absent.yaml")


@pytest.mark.parametrize("content", ["- just\n- a list\n", "a plain string\n", "42\n", ""])
def test_not_a_mapping(tmp_path, content):
    path = tmp_path / "list.yaml"
    path.write_text(content, encoding="utf-8")
    assert "bảng khóa" in form_error(path)


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes("key: biểu mẫu\n".encode("cp1258", errors="replace") + b"\xff\xfe")
    assert "YAML" in form_error(path)


def broken(mutate) -> dict:
    raw = bundled_raw()
    mutate(raw)
    return raw


CASES = {
    "unknown type": (
        lambda raw: question_of(raw, "inspection_teams").update(type="number"),
        "inspection_teams",
        "type",
    ),
    "duplicate key": (
        lambda raw: raw["questions"].append(copy.deepcopy(question_of(raw, "supervisions"))),
        "supervisions",
        "trùng",
    ),
    "unknown section": (
        lambda raw: question_of(raw, "complaints").update(section="9"),
        "complaints",
        "'9'",
    ),
    "unknown level": (
        lambda raw: question_of(raw, "dialogue_province_gov").update(levels=["tinh", "thon"]),
        "dialogue_province_gov",
        "thon",
    ),
    "rule to an unknown question": (
        lambda raw: question_of(raw, "online_services_l4").update(rules=[{"lte": "nowhere"}]),
        "online_services_l4",
        "nowhere",
    ),
    "rule to a later question": (
        lambda raw: question_of(raw, "online_services_l34").update(
            rules=[{"gte": "online_services_l4"}]
        ),
        "online_services_l34",
        "online_services_l4",
    ),
    "rule on a non-numeric question": (
        lambda raw: question_of(raw, "complaints").update(rules=[{"lte": "inspection_teams"}]),
        "complaints",
        "kiểu số",
    ),
    "rule with both lte and gte": (
        lambda raw: question_of(raw, "online_services_l4").update(
            rules=[{"lte": "online_services_l34", "gte": "inspection_teams"}]
        ),
        "online_services_l4",
        "lte",
    ),
    "missing label": (
        lambda raw: question_of(raw, "satisfaction_pct").pop("label"),
        "satisfaction_pct",
        "label",
    ),
    "bad key pattern": (
        lambda raw: question_of(raw, "supervisions").update(key="Giám-sát"),
        "Giám-sát",
        "khóa",
    ),
    "extra unknown field": (
        lambda raw: question_of(raw, "supervisions").update(colour="red"),
        "supervisions",
        "colour",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_broken_question_names_file_key_and_problem(tmp_path, case):
    mutate, key, problem = CASES[case]
    message = form_error(write(tmp_path, broken(mutate)))
    assert f"'{key}'" in message
    assert problem in message


def test_unknown_top_level_field_and_missing_questions(tmp_path):
    assert "colour" in form_error(write(tmp_path, broken(lambda raw: raw.update(colour=1))))
    message = form_error(write(tmp_path, broken(lambda raw: raw.update(questions=[]))))
    assert "không có câu hỏi" in message


def test_bad_submit_incomplete_value(tmp_path):
    message = form_error(write(tmp_path, broken(lambda raw: raw.update(submit_incomplete="maybe"))))
    assert "submit_incomplete" in message


def test_soft_checks_are_declared_in_the_form():
    ct37 = load_form("ct37_phuluc.yaml")
    (times,) = ct37.question("reception_local_regular").plausible
    assert (times.field, times.lte_field) == ("times", "people")
    (teams,) = ct37.question("inspection_teams").plausible
    assert (teams.limit("xa"), teams.limit("huyen"), teams.limit("tinh")) == (50, 200, 500)
    assert ct37.question("online_services_l34").plausible[0].limit("xa") == 3000


@pytest.mark.parametrize(
    ("key", "check", "problem"),
    [
        ("inspection_teams", {"field": "times", "max": 5, "message": "x"}, "chỉ dùng trường value"),
        ("inspection_teams", {"message": "x"}, "cần lte_field hoặc max"),
        ("inspection_teams", {"max_by_level": {"thon": 5}, "message": "x"}, "cấp không hợp lệ"),
        ("docs_party", {"max": 5, "message": "x"}, "không có kiểm tra hợp lý"),
        ("complaints", {"field": "done", "lte_field": "people", "message": "x"}, "done, total"),
    ],
)
def test_a_bad_soft_check_names_the_question_and_the_problem(tmp_path, key, check, problem):
    raw = bundled_raw()
    question_of(raw, key)["plausible"] = [check]
    message = form_error(write(tmp_path, raw))
    assert f"câu '{key}'" in message and problem in message
