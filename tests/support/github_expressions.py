"""Enough of GitHub Actions' expression language to evaluate the workflow's conditions in tests:
literals, property paths, `!`, `==`, `!=` (strings compared case-insensitively, operands of different
types as numbers), `&&`, `||` (which return an operand, as GitHub's do) and parentheses. Anything else
raises."""

from __future__ import annotations

import math
import re
from typing import Any

TOKEN = re.compile(
    r"\s*(?:(\|\||&&|==|!=|!|\(|\))|'((?:[^']|'')*)'|(true|false|null)\b|(-?\d+(?:\.\d+)?)|([A-Za-z_][\w.\-]*))"
)


def tokens(expression: str) -> list[tuple[str, Any]]:
    found, position = [], 0
    expression = expression.strip()
    while position < len(expression):
        match = TOKEN.match(expression, position)
        if not match:
            raise ValueError(f"cannot read {expression[position:]!r}")
        operator, string, keyword, number, path = match.groups()
        if operator:
            found.append(("op", operator))
        elif string is not None:
            found.append(("value", string.replace("''", "'")))
        elif keyword:
            found.append(("value", {"true": True, "false": False, "null": None}[keyword]))
        elif number:
            found.append(("value", float(number)))
        else:
            found.append(("path", path))
        position = match.end()
    return found


def truthy(value: Any) -> bool:
    return value not in (None, False, "", 0)


def as_number(value: Any) -> float:
    """GitHub's coercion of an operand whose type differs from the other's: null 0, booleans 1 and 0, a string
    its number ('' is 0), anything else NaN (which equals nothing)."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip() or 0)
        except ValueError:
            return math.nan
    return math.nan


def equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    if type(left) is not type(right):  # an unset variable (null) equals '', as on GitHub
        return as_number(left) == as_number(right)
    return left == right


def evaluate(expression: str, contexts: dict[str, Any]) -> Any:
    items = tokens(expression)
    position = 0

    def peek() -> tuple[str, Any] | None:
        return items[position] if position < len(items) else None

    def take() -> tuple[str, Any]:
        nonlocal position
        position += 1
        return items[position - 1]

    def lookup(path: str) -> Any:
        value: Any = contexts
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    def primary() -> Any:
        kind, value = take()
        if (kind, value) == ("op", "!"):
            return not truthy(primary())
        if (kind, value) == ("op", "("):
            result = disjunction()
            if take() != ("op", ")"):
                raise ValueError(f"unbalanced parentheses in {expression!r}")
            return result
        if kind == "value":
            return value
        if kind == "path":
            return lookup(value)
        raise ValueError(f"unexpected {value!r} in {expression!r}")

    def comparison() -> Any:
        left = primary()
        while peek() in (("op", "=="), ("op", "!=")):
            operator = take()[1]
            right = primary()
            left = equal(left, right) if operator == "==" else not equal(left, right)
        return left

    def conjunction() -> Any:
        left = comparison()
        while peek() == ("op", "&&"):
            take()
            right = comparison()
            left = right if truthy(left) else left
        return left

    def disjunction() -> Any:
        left = conjunction()
        while peek() == ("op", "||"):
            take()
            right = conjunction()
            left = left if truthy(left) else right
        return left

    result = disjunction()
    if position != len(items):
        raise ValueError(f"trailing {items[position:]!r} in {expression!r}")
    return result


def render(text: str, contexts: dict[str, Any]) -> str:
    """A value with ``${{ ... }}`` substitutions, as the runner sees it."""

    def one(match: re.Match) -> str:
        value = evaluate(match.group(1), contexts)
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)

    return re.sub(r"\$\{\{(.*?)\}\}", one, text)


def condition(text: str | None, contexts: dict[str, Any]) -> bool:
    """An `if:` (with or without ``${{ }}``); a missing one is GitHub's default, success()."""
    if text is None:
        return True
    text = text.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    return truthy(evaluate(text, contexts))
