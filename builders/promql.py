"""Just enough PromQL reading to find, and rewrite, the vector selectors of a query.

An identifier is a metric name when it is not a function or aggregation (followed by
``(``, or by ``by``/``without``), not a keyword (``by``, ``on``, ``bool``, ``offset`` ...),
not a label name (inside ``{...}``, or in the parentheses after ``by``/``without``/``on``/
``ignoring``/``group_left``/``group_right``), and not inside a string, a range ``[...]``
or a Grafana variable (``$x``, ``${x}``, ``[[x]]``). ``{__name__="x"}`` names ``x`` too.
This is not a parser: Prometheus checks the syntax of every shipped query in the test
suite. What it cannot take apart raises ``PromQLNameError``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_KEYWORDS = frozenset({"bool", "offset", "and", "or", "unless", "atan2", "inf", "nan"})
_LABEL_LISTS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
METRIC_NAME = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*$")
_NUMBER = re.compile(r"0x[0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?(?:[a-zA-Z]+[0-9]*)*")
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[[^\]]*\]\]")
_MATCHER = re.compile(
    r"\s*(?P<text>(?P<label>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*"
    r"(?P<value>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`[^`]*`))\s*(?:,|$)"
)


class PromQLNameError(ValueError):
    """A query this reader cannot take apart, or one whose metric belongs to no known job."""


@dataclass(frozen=True)
class Selector:
    """A vector selector: the metric name (or None for a bare ``{...}``) and the labels it matches."""

    name: str | None
    labels: tuple[str, ...]


@dataclass(frozen=True)
class _Found:
    selector: Selector
    start: int  # where the selector's text starts
    end: int  # just past it
    written_name: str | None  # the name as written before the braces, if any
    matchers: tuple[tuple[str, str], ...]  # (label, matcher text as written)


def skip_string(expr: str, i: int) -> int:
    quote = expr[i]
    i += 1
    while i < len(expr) and expr[i] != quote:
        i += 2 if expr[i] == "\\" and quote != "`" else 1
    if i >= len(expr):
        raise PromQLNameError(f"unterminated string in {expr!r}")
    return i + 1


def closing_bracket(expr: str, i: int, opening: str, closing: str) -> int:
    """Index just past the bracket that matches ``expr[i]``, strings skipped."""
    depth = 0
    while i < len(expr):
        char = expr[i]
        if char in "\"'`":
            i = skip_string(expr, i)
            continue
        if char == opening:
            depth += 1
        elif char == closing:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise PromQLNameError(f"unbalanced {opening}{closing} in {expr!r}")


def matcher_matches(text: str, expr: str) -> list[re.Match[str]]:
    """The matchers between ``{`` and ``}`` (groups ``label``, ``op``, ``value`` quoted, ``text`` as written)."""
    found = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _MATCHER.match(text, position)
        if not match:
            raise PromQLNameError(f"cannot read the label matchers {{{text}}} in {expr!r}")
        found.append(match)
        position = match.end()
    return found


def _matchers(text: str, expr: str) -> tuple[tuple[str, str, str], ...]:
    """(label, unquoted value, matcher as written) of each matcher between ``{`` and ``}``."""
    return tuple((m["label"], m["value"][1:-1], m["text"]) for m in matcher_matches(text, expr))


def _found(name: str | None, start: int, end: int, inner: str | None, expr: str) -> _Found:
    matchers = _matchers(inner, expr) if inner is not None else ()
    metric, labels = name, []
    for label, value, _ in matchers:
        if label == "__name__":
            if metric is not None or not METRIC_NAME.match(value):
                raise PromQLNameError(f"cannot tell the metric name of {expr!r} ({label}={value!r})")
            metric = value
        else:
            labels.append(label)
    written = tuple((label, text) for label, _, text in matchers)
    return _Found(Selector(metric, tuple(labels)), start, end, name, written)


def _scan(expr: str) -> list[_Found]:
    found: list[_Found] = []
    depth = 0
    i = 0
    while i < len(expr):
        char = expr[i]
        if char.isspace():
            i += 1
        elif char in "()":
            depth += 1 if char == "(" else -1
            if depth < 0:
                raise PromQLNameError(f"unbalanced () in {expr!r}")
            i += 1
        elif char == "#":
            newline = expr.find("\n", i)
            i = len(expr) if newline < 0 else newline + 1
        elif char in "\"'`":
            i = skip_string(expr, i)
        elif (char == "$" or expr.startswith("[[", i)) and (variable := _GRAFANA_VARIABLE.match(expr, i)):
            i = variable.end()  # stands for a number, a duration or a label value, never a name
        elif char == "[":
            i = closing_bracket(expr, i, "[", "]")  # a range or a subquery: durations only
        elif char == "{":
            end = closing_bracket(expr, i, "{", "}")
            found.append(_found(None, i, end, expr[i + 1 : end - 1], expr))
            i = end
        elif char.isdigit() or (char == "." and expr[i + 1 : i + 2].isdigit()):
            i = _NUMBER.match(expr, i).end()
        elif match := _IDENT.match(expr, i):
            word = match.group(0)
            j = match.end()
            while j < len(expr) and expr[j].isspace():
                j += 1
            following = _IDENT.match(expr, j)
            if word.lower() in _LABEL_LISTS:
                i = closing_bracket(expr, j, "(", ")") if expr[j : j + 1] == "(" else j
            elif word.lower() in _KEYWORDS:
                i = j
            elif expr[j : j + 1] == "(" or (following and following.group(0).lower() in ("by", "without")):
                i = j  # a function or an aggregation; its arguments are read as they come
            elif expr[j : j + 1] == "{":
                end = closing_bracket(expr, j, "{", "}")
                found.append(_found(word, i, end, expr[j + 1 : end - 1], expr))
                i = end
            else:
                found.append(_found(word, i, match.end(), None, expr))
                i = j
        else:
            i += 1  # operators, commas
    if depth:
        raise PromQLNameError(f"unbalanced () in {expr!r}")
    return found


def selectors(expr: str) -> list[Selector]:
    """Every vector selector of a PromQL expression, in order."""
    return [f.selector for f in _scan(expr)]


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects."""
    return {s.name for s in selectors(expr) if s.name is not None}


def string_literal(value: str) -> str:
    """``value`` as a double-quoted PromQL string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def set_label(expr: str, label: str, value_for: Callable[[Selector], str | None]) -> str:
    """``expr`` with ``label="<value>"`` as the first matcher of each selector ``value_for`` gives a value.

    Matchers on ``label`` already there are replaced; everything else, spacing included,
    stays as written.
    """
    out, position = [], 0
    for found in _scan(expr):
        value = value_for(found.selector)
        if value is None:
            continue
        kept = [text for name, text in found.matchers if name != label]
        body = ", ".join([f"{label}={string_literal(value)}", *kept])
        out.append(expr[position : found.start])
        out.append(f"{found.written_name or ''}{{{body}}}")
        position = found.end
    out.append(expr[position:])
    return "".join(out)


# Grafana's Prometheus variable queries: label_values(expr, label), label_values(label),
# query_result(expr), label_names(); metrics(regex) matches names, not a query.
_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<args>.*)\)\s*$", re.DOTALL)
_QUERY_RESULT = re.compile(r"^\s*query_result\((?P<expr>.*)\)\s*$", re.DOTALL)
_LABEL_NAMES = re.compile(r"^\s*label_names\(.*\)\s*$", re.DOTALL)


def _last_top_level_comma(text: str) -> int | None:
    """Index of the last comma outside brackets and strings."""
    depth, last, i = 0, None, 0
    while i < len(text):
        char = text[i]
        if char in "\"'`":
            i = skip_string(text, i)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            last = i
        i += 1
    return last


def variable_query_span(text: str) -> tuple[int, int] | None:
    """Where the PromQL of a Grafana Prometheus variable query is in ``text``, or None if it has none."""
    if not text.strip() or _LABEL_NAMES.match(text):
        return None
    if match := _LABEL_VALUES.match(text):
        comma = _last_top_level_comma(match["args"])
        # label_values(label) has no query
        return (match.start("args"), match.start("args") + comma) if comma is not None else None
    if match := _QUERY_RESULT.match(text):
        return match.span("expr")
    if text.lstrip().startswith("metrics("):
        raise PromQLNameError(f"variable query {text!r} lists metric names by a pattern; name them in a query")
    return (0, len(text))


def variable_query_expr(query: Any) -> str | None:
    """The PromQL inside a Grafana Prometheus query variable (text or ``{"query": ...}``), or None."""
    text = query.get("query") if isinstance(query, Mapping) else query
    if not isinstance(text, str):
        return None
    span = variable_query_span(text)
    return text[span[0] : span[1]] if span is not None else None
