"""A small, safe subset of XLSForm (XPath) expressions: constraints, `relevant` and `calculate`.

Forms come from staff spreadsheets, so their expressions are parsed here into a tree and
evaluated by this module alone — never by `eval`. Supported: numbers, 'strings', `.` (the answer
being checked), `${name}` (another answer, or `unit_level`), `+ - * div mod`, comparisons
`= != < <= > >=`, `and`, `or`, parentheses and the functions `regex(x, 'pattern')`,
`selected(x, 'name')`, `count-selected(x)`, `string-length(x)`, `not(x)`. Anything else is
refused with a Vietnamese reason when the form is read. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

MAX_LENGTH = 500


class ExpressionError(ValueError):
    """An expression outside the supported subset, with a Vietnamese reason."""


_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<string>'[^']*'|\"[^\"]*\")|(?P<ref>\$\{[A-Za-z_][A-Za-z0-9_.-]*\})"
    r"|(?P<op><=|>=|!=|[=<>+\-*(),.])|(?P<word>[A-Za-z][A-Za-z0-9_-]*))"
)
_FUNCTIONS = {"regex": 2, "selected": 2, "count-selected": 1, "string-length": 1, "not": 1}
_COMPARISONS = {"=", "!=", "<", "<=", ">", ">="}


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, its tree and the `${names}` it reads."""

    text: str
    tree: tuple
    references: frozenset[str]

    def evaluate(self, dot: object = None, values: Mapping[str, object] | None = None) -> object:
        return _evaluate(self.tree, dot, values or {})

    def holds(self, dot: object = None, values: Mapping[str, object] | None = None) -> bool:
        return _truthy(self.evaluate(dot, values))


@lru_cache(maxsize=512)
def parse_expression(text: str) -> Expression:
    """Parse `text`; raises ExpressionError naming what is not supported."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"biểu thức dài quá {MAX_LENGTH} ký tự")
    tokens = _tokens(text)
    parser = _Parser(tokens)
    tree = parser.parse_or()
    if parser.position != len(tokens):
        raise ExpressionError(f"không hiểu phần «{_rest(tokens, parser.position)}» của biểu thức")
    return Expression(text, tree, frozenset(_references(tree)))


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ExpressionError(
                f"ký tự không hỗ trợ trong biểu thức: «{text[position:].strip()[:20]}»"
            )
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    if not tokens:
        raise ExpressionError("biểu thức trống")
    return tokens


def _rest(tokens: list[tuple[str, str]], position: int) -> str:
    return " ".join(value for _, value in tokens[position:])[:30]


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.position = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.position] if self.position < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token[0] == "end":
            raise ExpressionError("biểu thức bị thiếu ở cuối")
        self.position += 1
        return token

    def expect(self, value: str) -> None:
        if self.peek()[1] != value:
            raise ExpressionError(f"thiếu «{value}» trong biểu thức")
        self.take()

    def parse_or(self) -> tuple:
        tree = self.parse_and()
        while self.peek() == ("word", "or"):
            self.take()
            tree = ("or", tree, self.parse_and())
        return tree

    def parse_and(self) -> tuple:
        tree = self.parse_comparison()
        while self.peek() == ("word", "and"):
            self.take()
            tree = ("and", tree, self.parse_comparison())
        return tree

    def parse_comparison(self) -> tuple:
        tree = self.parse_sum()
        if self.peek()[1] in _COMPARISONS:
            operator = self.take()[1]
            tree = ("compare", operator, tree, self.parse_sum())
        return tree

    def parse_sum(self) -> tuple:
        tree = self.parse_product()
        while self.peek()[1] in ("+", "-") and self.peek()[0] == "op":
            operator = self.take()[1]
            tree = ("arith", operator, tree, self.parse_product())
        return tree

    def parse_product(self) -> tuple:
        tree = self.parse_unary()
        while self.peek() in (("op", "*"), ("word", "div"), ("word", "mod")):
            operator = self.take()[1]
            tree = ("arith", operator, tree, self.parse_unary())
        return tree

    def parse_unary(self) -> tuple:
        if self.peek() == ("op", "-"):
            self.take()
            return ("arith", "-", ("const", 0.0), self.parse_unary())
        return self.parse_primary()

    def parse_primary(self) -> tuple:
        kind, value = self.take()
        if kind == "number":
            return ("const", float(value))
        if kind == "string":
            return ("const", value[1:-1])
        if kind == "ref":
            return ("ref", value[2:-1])
        if (kind, value) == ("op", "."):
            return ("dot",)
        if (kind, value) == ("op", "("):
            tree = self.parse_or()
            self.expect(")")
            return tree
        if kind == "word" and value in _FUNCTIONS:
            self.expect("(")
            arguments = [self.parse_or()]
            while self.peek() == ("op", ","):
                self.take()
                arguments.append(self.parse_or())
            self.expect(")")
            if len(arguments) != _FUNCTIONS[value]:
                raise ExpressionError(f"hàm {value}() cần {_FUNCTIONS[value]} đối số")
            if value == "regex":
                pattern = arguments[1]
                if pattern[0] != "const" or not isinstance(pattern[1], str):
                    raise ExpressionError("regex() cần mẫu là một chuỗi trong dấu nháy")
                try:
                    re.compile(pattern[1])
                except re.error:
                    raise ExpressionError(f"mẫu regex «{pattern[1]}» không hợp lệ") from None
            return ("call", value, *arguments)
        if kind == "word":
            raise ExpressionError(f"hàm hoặc từ «{value}» chưa được hỗ trợ")
        raise ExpressionError(f"không hiểu «{value}» trong biểu thức")


def _references(tree: tuple) -> set[str]:
    if tree[0] == "ref":
        return {tree[1]}
    found: set[str] = set()
    for part in tree[1:]:
        if isinstance(part, tuple):
            found |= _references(part)
    return found


def _truthy(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, (list, tuple)):
        return bool(value)
    if isinstance(value, str):
        return value != ""
    return bool(value)


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(str(item) for item in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _compare(operator: str, left: object, right: object) -> bool:
    if left is None or right is None:
        return False
    a, b = _number(left), _number(right)
    if a is None or b is None:
        a, b = _text(left), _text(right)  # type: ignore[assignment]
    return {
        "=": a == b,
        "!=": a != b,
        "<": a < b,  # type: ignore[operator]
        "<=": a <= b,  # type: ignore[operator]
        ">": a > b,  # type: ignore[operator]
        ">=": a >= b,  # type: ignore[operator]
    }[operator]


def _arith(operator: str, left: object, right: object) -> float | None:
    a, b = _number(left), _number(right)
    if a is None or b is None:
        return None
    if operator == "+":
        return a + b
    if operator == "-":
        return a - b
    if operator == "*":
        return a * b
    if b == 0:
        return None
    return a / b if operator == "div" else a % b


def _evaluate(tree: tuple, dot: object, values: Mapping[str, object]) -> object:
    head = tree[0]
    if head == "const":
        return tree[1]
    if head == "dot":
        return dot
    if head == "ref":
        return values.get(tree[1])
    if head == "or":
        return _truthy(_evaluate(tree[1], dot, values)) or _truthy(_evaluate(tree[2], dot, values))
    if head == "and":
        return _truthy(_evaluate(tree[1], dot, values)) and _truthy(_evaluate(tree[2], dot, values))
    if head == "compare":
        return _compare(tree[1], _evaluate(tree[2], dot, values), _evaluate(tree[3], dot, values))
    if head == "arith":
        return _arith(tree[1], _evaluate(tree[2], dot, values), _evaluate(tree[3], dot, values))
    name, arguments = tree[1], [_evaluate(part, dot, values) for part in tree[2:]]
    if name == "regex":
        return re.search(str(arguments[1]), _text(arguments[0])) is not None
    if name == "selected":
        chosen = (
            arguments[0] if isinstance(arguments[0], (list, tuple)) else _text(arguments[0]).split()
        )
        return _text(arguments[1]) in chosen
    if name == "count-selected":
        chosen = (
            arguments[0] if isinstance(arguments[0], (list, tuple)) else _text(arguments[0]).split()
        )
        return float(len(chosen))
    if name == "string-length":
        return float(len(_text(arguments[0])))
    return not _truthy(arguments[0])
