"""Text from outside: cleaned where it enters, so no database refuses it and no parser splits it."""

from hypothesis import given
from hypothesis import strategies as st

from conversations.text import clean_text, control_characters


def test_examples():
    assert clean_text("Nguyễn\x00 Văn A") == "Nguyễn Văn A"
    assert clean_text("dòng 1\r\ndòng 2\rdòng 3") == "dòng 1\ndòng 2\ndòng 3"
    assert clean_text("Công văn\x0bsố 5\x0cngày\u2028 3/4") == "Công văn số 5 ngày  3/4"
    assert clean_text("Hue\u0302\u0301") == "Huế"  # decomposed input becomes one character
    assert control_characters("a\x00b\x0bc\x00\nd\te") == ["U+0000", "U+000B"]


@given(st.text())
def test_cleaned_text_has_only_newlines_as_breaks_and_is_stable(text):
    cleaned = clean_text(text)
    assert control_characters(cleaned) == []
    parts = cleaned.split("\n")
    assert cleaned.splitlines() == (parts[:-1] if parts[-1] == "" else parts)
    assert clean_text(cleaned) == cleaned
