"""The metric names the shipped dashboards, recording rules and alerts read, per component.

``podMonitor.keepOnlyUsedMetrics`` gives every monitor a ``metricRelabelings`` entry
that keeps only these names, so a Prometheus stores nothing the stack never queries.
The list is not written down anywhere: it is read from the queries themselves (every
panel target and query variable of ``dashboards/*.json``, every recording rule and
alert expression of ``alert_rules``), so a new panel or rule brings its metrics along.

Reading the names needs only a small part of PromQL: an identifier is a metric name
when it is not a function or aggregation (followed by ``(``, or by ``by``/``without``),
not a keyword (``by``, ``on``, ``bool``, ``offset`` ...), not a label name (inside
``{...}``, or in the parentheses after ``by``/``without``/``on``/``ignoring``/
``group_left``/``group_right``), and not inside a string, a range ``[...]`` or a
Grafana variable. ``{__name__="x"}`` names ``x`` too. Prometheus checks the syntax
of every one of these queries in the test suite; this reader only has to find names.

Left out of the keep list: recorded series (names with ``:``, produced by the rules,
never scraped), the series Prometheus writes for every target itself (``up``,
``scrape_*``; metric relabelings never see them), and series of other jobs that an
alert joins with (kube-state-metrics' node condition). Any other selector must be
scoped to the component's job, so that the component it belongs to is never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from components.alert_rules import COMPONENTS, NODE_NOT_READY, build_rule_groups
from components.dashboard_json import shipped_dashboards

#: The shipped dashboard of each component.
DASHBOARD_OF: dict[str, str] = {component: f"{component}.json" for component in COMPONENTS}

#: Series Prometheus adds to every target itself, after metric relabeling (and with
#: ``--enable-feature=extra-scrape-metrics``, the last three).
GENERATED_SERIES = frozenset(
    {
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
        "scrape_timeout_seconds",
        "scrape_sample_limit",
        "scrape_body_size_bytes",
    }
)

_KEYWORDS = frozenset({"bool", "offset", "and", "or", "unless", "atan2", "inf", "nan"})
_LABEL_LISTS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_METRIC_NAME = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*$")
_NUMBER = re.compile(r"0x[0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?(?:[a-zA-Z]+[0-9]*)*")
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[[^\]]*\]\]")
_MATCHER = re.compile(
    r"\s*(?P<label>[A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)\s*"
    r"(?P<value>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`[^`]*`)\s*(?:,|$)"
)
# Grafana's Prometheus variable queries: label_values(expr, label), label_values(label),
# query_result(expr), label_names(); metrics(regex) matches names, not a query.
_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<args>.*)\)\s*$", re.DOTALL)
_QUERY_RESULT = re.compile(r"^\s*query_result\((?P<expr>.*)\)\s*$", re.DOTALL)
_LABEL_NAMES = re.compile(r"^\s*label_names\(.*\)\s*$", re.DOTALL)


class PromQLNameError(ValueError):
    """A query this reader cannot take apart, or one whose metric belongs to no known job."""


@dataclass(frozen=True)
class Selector:
    """A vector selector: the metric name (or None for a bare ``{...}``) and the labels it matches."""

    name: str | None
    labels: tuple[str, ...]


def _skip_string(expr: str, i: int) -> int:
    quote = expr[i]
    i += 1
    while i < len(expr) and expr[i] != quote:
        i += 2 if expr[i] == "\\" and quote != "`" else 1
    if i >= len(expr):
        raise PromQLNameError(f"unterminated string in {expr!r}")
    return i + 1


def _close(expr: str, i: int, opening: str, closing: str) -> int:
    """Index just past the bracket that matches ``expr[i]``, strings skipped."""
    depth = 0
    while i < len(expr):
        char = expr[i]
        if char in "\"'`":
            i = _skip_string(expr, i)
            continue
        if char == opening:
            depth += 1
        elif char == closing:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise PromQLNameError(f"unbalanced {opening}{closing} in {expr!r}")


def _matchers(text: str, expr: str) -> list[tuple[str, str]]:
    """(label, unquoted value) of each matcher in the text between ``{`` and ``}``."""
    found = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _MATCHER.match(text, position)
        if not match:
            raise PromQLNameError(f"cannot read the label matchers {{{text}}} in {expr!r}")
        found.append((match["label"], match["value"][1:-1]))
        position = match.end()
    return found


def _selector(name: str | None, matchers: list[tuple[str, str]], expr: str) -> Selector:
    labels = []
    for label, value in matchers:
        if label == "__name__":
            if name is not None or not _METRIC_NAME.match(value):
                raise PromQLNameError(f"cannot tell the metric name of {expr!r} ({label}={value!r})")
            name = value
        else:
            labels.append(label)
    return Selector(name, tuple(labels))


def selectors(expr: str) -> list[Selector]:
    """Every vector selector of a PromQL expression, in order."""
    # A Grafana variable stands for a number, a duration or a label value; never for a name.
    expr = _GRAFANA_VARIABLE.sub(lambda m: "1" if not m.group(0).startswith("[[") else "", expr)
    found: list[Selector] = []
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
            i = _skip_string(expr, i)
        elif char == "[":
            i = _close(expr, i, "[", "]")  # a range or a subquery: durations only
        elif char == "{":
            end = _close(expr, i, "{", "}")
            found.append(_selector(None, _matchers(expr[i + 1 : end - 1], expr), expr))
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
                i = _close(expr, j, "(", ")") if expr[j : j + 1] == "(" else j
            elif word.lower() in _KEYWORDS:
                i = j
            elif expr[j : j + 1] == "(" or (following and following.group(0).lower() in ("by", "without")):
                i = j  # a function or an aggregation; its arguments are read as they come
            elif expr[j : j + 1] == "{":
                end = _close(expr, j, "{", "}")
                found.append(_selector(word, _matchers(expr[j + 1 : end - 1], expr), expr))
                i = end
            else:
                found.append(Selector(word, ()))
                i = j
        else:
            i += 1  # operators, commas
    if depth:
        raise PromQLNameError(f"unbalanced () in {expr!r}")
    return found


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects."""
    return {s.name for s in selectors(expr) if s.name is not None}


def _last_top_level_comma(text: str) -> int | None:
    """Index of the last comma outside brackets and strings."""
    depth, last, i = 0, None, 0
    while i < len(text):
        char = text[i]
        if char in "\"'`":
            i = _skip_string(text, i)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            last = i
        i += 1
    return last


def variable_query_expr(query: Any) -> str | None:
    """The PromQL inside a Grafana Prometheus query variable, or None where there is none."""
    text = query.get("query") if isinstance(query, Mapping) else query
    if not isinstance(text, str) or not text.strip():
        return None
    if _LABEL_NAMES.match(text):
        return None
    if match := _LABEL_VALUES.match(text):
        comma = _last_top_level_comma(match["args"])
        return match["args"][:comma] if comma is not None else None  # label_values(label): no query
    if match := _QUERY_RESULT.match(text):
        return match["expr"]
    if text.lstrip().startswith("metrics("):
        raise PromQLNameError(f"variable query {text!r} lists metric names by a pattern; name them in a query")
    return text


def _panels(panels: Any) -> Iterator[dict[str, Any]]:
    for panel in panels or []:
        if isinstance(panel, dict):
            yield panel
            yield from _panels(panel.get("panels"))


def dashboard_queries(dashboard: Mapping[str, Any]) -> list[str]:
    """Every Prometheus query of a dashboard: panel targets, then query variables."""
    panels = list(_panels(dashboard.get("panels")))
    for row in dashboard.get("rows") or []:
        panels.extend(_panels(row.get("panels")))
    found = [t["expr"] for p in panels for t in p.get("targets") or [] if isinstance(t.get("expr"), str)]
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        if variable.get("type") == "query":
            expr = variable_query_expr(variable.get("query"))
            if expr is None:
                expr = variable_query_expr(variable.get("definition"))
            if expr is not None:
                found.append(expr)
    return [expr for expr in found if expr.strip()]


def rule_queries(groups: Iterable[Mapping[str, Any]]) -> list[str]:
    """The expression of every recording and alerting rule of PrometheusRule groups."""
    return [rule["expr"] for group in groups for rule in group["rules"]]


def scraped_names(queries: Iterable[str], *, foreign: Iterable[str] = ()) -> set[str]:
    """The names of scraped series that ``queries`` select.

    Recorded series, Prometheus' own per-target series and the ``foreign`` names
    (other jobs' series) are left out; every other selector must match ``job``.
    """
    foreign = set(foreign)
    names: set[str] = set()
    for expr in queries:
        for selector in selectors(expr):
            name = selector.name
            if name is None:
                raise PromQLNameError(f"{expr!r}: a selector without a metric name cannot be kept by name")
            if ":" in name or name in GENERATED_SERIES or name in foreign:
                continue
            if "job" not in selector.labels:
                raise PromQLNameError(
                    f"{expr!r}: {name} is not scoped to a job, so its component cannot be told; "
                    "add the job matcher (or list it as another job's series)"
                )
            names.add(name)
    return names


def used_names(
    component: str,
    dashboards: Mapping[str, Mapping[str, Any]],
    rule_groups: Iterable[Mapping[str, Any]],
) -> tuple[str, ...]:
    """Sorted names of the scraped series a component's dashboard and rule groups read."""
    queries = dashboard_queries(dashboards[DASHBOARD_OF[component]]) if DASHBOARD_OF[component] in dashboards else []
    queries += rule_queries(rule_groups)
    return tuple(sorted(scraped_names(queries, foreign=metric_names(NODE_NOT_READY))))


@cache
def shipped_used_names(component: str) -> tuple[str, ...]:
    """The names of what the shipped dashboard, recording rules and every alert of ``component`` read."""
    if component not in COMPONENTS:
        raise ValueError(f"unknown Calico component {component!r}; expected one of {', '.join(COMPONENTS)}")
    groups = build_rule_groups({}, components=[component], include_alerts=True)
    return used_names(component, shipped_dashboards(), groups)


def keep_relabeling(names: Iterable[str]) -> dict[str, Any]:
    """A metricRelabelings entry that keeps exactly ``names`` (Prometheus anchors the regex)."""
    ordered = sorted(set(names))
    if not ordered:
        raise ValueError("no metric names to keep")
    for name in ordered:
        if not _METRIC_NAME.match(name) or ":" in name:
            raise ValueError(f"not the name of a scraped metric: {name!r}")
    return {"action": "keep", "sourceLabels": ["__name__"], "regex": "|".join(ordered)}
