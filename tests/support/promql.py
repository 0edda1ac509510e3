"""Just enough PromQL reading to lint dashboard queries: find every vector selector.

This is not a parser; Prometheus itself checks the syntax in
test_dashboard_queries.py. It finds each ``metric{matchers}`` (and bare
``{matchers}``) with the innermost function it is an argument of, so tests can
check job scoping and that counters only appear under rate()/increase().
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from builders.promql import closing_bracket, matcher_matches, skip_string

KEYWORDS = frozenset(
    {
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
        "and",
        "or",
        "unless",
        "atan2",
        "inf",
        "nan",
    }
)
_GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NUMBER = re.compile(r"(?:0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)(?:[a-zA-Z]+[0-9a-zA-Z]*)*")


@dataclass(frozen=True)
class Selector:
    metric: str | None
    matchers: tuple[tuple[str, str, str], ...]  # (label, op, value without quotes)
    function: str | None  # innermost enclosing function or aggregation, None for plain parentheses

    def matcher(self, label: str) -> tuple[str, str] | None:
        for name, op, value in self.matchers:
            if name == label:
                return op, value
        return None


def _parse_matchers(text: str, expr: str) -> tuple[tuple[str, str, str], ...]:
    return tuple((m["label"], m["op"], m["value"][1:-1]) for m in matcher_matches(text, expr))


def selectors(expr: str) -> list[Selector]:
    found: list[Selector] = []
    stack: list[str | None] = []  # functions whose argument list we are in
    pending: str | None = None  # aggregation waiting for its body after "by (...)"
    i = 0
    while i < len(expr):
        char = expr[i]
        if char.isspace():
            i += 1
        elif char == "#":
            newline = expr.find("\n", i)
            i = len(expr) if newline < 0 else newline + 1
        elif char in "\"'`":
            i = skip_string(expr, i)
        elif char == "$" and _IDENT.match(expr, i + 1):
            i += 1 + len(_IDENT.match(expr, i + 1).group(0))  # a dashboard variable standing for a number
        elif char == "[":
            i = closing_bracket(expr, i, "[", "]")  # range or subquery
        elif char == "{":
            end = closing_bracket(expr, i, "{", "}")
            found.append(Selector(None, _parse_matchers(expr[i + 1 : end - 1], expr), stack[-1] if stack else None))
            i = end
        elif char == "(":
            stack.append(pending)
            pending = None
            i += 1
        elif char == ")":
            if stack:
                stack.pop()
            i += 1
        elif char.isdigit() or (char == "." and i + 1 < len(expr) and expr[i + 1].isdigit()):
            match = _NUMBER.match(expr, i)
            i = match.end() if match and match.end() > i else i + 1
        elif _IDENT.match(expr, i):
            word = _IDENT.match(expr, i).group(0)
            j = i + len(word)
            while j < len(expr) and expr[j].isspace():
                j += 1
            lower = word.lower()
            if lower in _GROUPING:
                i = closing_bracket(expr, j, "(", ")") if j < len(expr) and expr[j] == "(" else j
            elif lower in KEYWORDS:
                i = j
            elif j < len(expr) and expr[j] == "(":
                stack.append(word)
                i = j + 1
            else:
                # An aggregation written as "sum by (x) (...)" has its name here, then "by".
                following = _IDENT.match(expr, j)
                if following and following.group(0).lower() in ("by", "without"):
                    pending = word
                    i = j
                    continue
                if j < len(expr) and expr[j] == "{":
                    end = closing_bracket(expr, j, "{", "}")
                    matchers = _parse_matchers(expr[j + 1 : end - 1], expr)
                    i = end
                else:
                    matchers = ()
                    i = j
                found.append(Selector(word, matchers, stack[-1] if stack else None))
        else:
            i += 1  # operators, commas
    return found
