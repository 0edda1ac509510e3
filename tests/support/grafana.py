"""Read Grafana dashboards the way the tests need: panels, queries, references, variables."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}
GRAFANA_BUILTIN_REFS = ({"type": "grafana", "uid": "-- Grafana --"}, "-- Grafana --")

_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]")
_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<expr>.*),\s*(?P<label>\w+)\s*\)\s*$", re.DOTALL)
_LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel_title: str
    panel_type: str
    ref_id: str
    expr: str
    legend: str

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel_title!r} / {self.ref_id}"


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in rows (new ``panels`` and old ``rows`` layouts)."""

    def walk(panels: Any) -> Iterator[dict[str, Any]]:
        for panel in panels or []:
            yield panel
            yield from walk(panel.get("panels"))

    yield from walk(dashboard.get("panels"))
    for row in dashboard.get("rows") or []:
        yield from walk(row.get("panels"))


def panel_queries(name: str, dashboard: Mapping[str, Any]) -> list[Query]:
    return [
        Query(
            dashboard=name,
            panel_title=panel.get("title", ""),
            panel_type=panel.get("type", ""),
            ref_id=target.get("refId", "?"),
            expr=target["expr"],
            legend=target.get("legendFormat", ""),
        )
        for panel in iter_panels(dashboard)
        for target in panel.get("targets") or []
        if target.get("expr")
    ]


def variables(dashboard: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in (dashboard.get("templating") or {}).get("list", [])}


def label_values_query(definition: str) -> tuple[str, str]:
    """(expr, label) of a ``label_values(expr, label)`` variable query."""
    match = _LABEL_VALUES.match(definition)
    if not match:
        raise ValueError(f"not a label_values(expr, label) query: {definition!r}")
    return match["expr"], match["label"]


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Replace Grafana variables (``$x``, ``${x}``, ``${x:fmt}``, ``[[x]]``) that ``values`` knows."""

    def replace(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        return values.get(name, match.group(0))

    return _VARIABLE.sub(replace, expr)


def unresolved_variables(expr: str) -> list[str]:
    """Variable references left in a query; ``$1`` and the like are PromQL replacement groups."""
    names = (next(group for group in m.groups() if group) for m in _VARIABLE.finditer(expr))
    return [name for name in names if not name.isdigit()]


def legend_labels(legend: str) -> list[str]:
    return _LEGEND_LABEL.findall(legend)


def datasource_refs(node: Any, path: str = "$") -> Iterator[tuple[str, Any]]:
    """(JSON path, value) of every ``datasource`` key anywhere in ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield f"{path}.datasource", value
            else:
                yield from datasource_refs(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from datasource_refs(item, f"{path}[{index}]")


def queries_without_datasource(dashboard: Mapping[str, Any]) -> list[str]:
    """Panels with targets, targets and query variables that rely on the default data source."""
    missing = []
    for panel in iter_panels(dashboard):
        targets = panel.get("targets") or []
        if targets and panel.get("datasource") is None:
            missing.append(f"panel {panel.get('title')!r}")
        missing.extend(
            f"panel {panel.get('title')!r} target {t.get('refId')}" for t in targets if t.get("datasource") is None
        )
    for name, variable in variables(dashboard).items():
        if variable.get("type") in ("query", "adhoc") and variable.get("datasource") is None:
            missing.append(f"variable {name!r}")
    return missing


def foreign_refs(dashboard: dict) -> list[tuple[str, object]]:
    """References that are neither ${datasource} nor Grafana's built-in annotation source."""
    return [
        (path, ref)
        for path, ref in datasource_refs(dashboard)
        if ref != DATASOURCE_REF and ref not in GRAFANA_BUILTIN_REFS
    ]


def datasource_variable(dashboard: dict) -> dict:
    found = [v for v in variables(dashboard).values() if v.get("type") == "datasource" and v["name"] == "datasource"]
    assert len(found) == 1, "exactly one 'datasource' variable"
    return found[0]
