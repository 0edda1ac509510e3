"""The metric names the shipped dashboards, recording rules and alerts read, per component.

``podMonitor.keepOnlyUsedMetrics`` gives every monitor a ``metricRelabelings`` entry
that keeps only these names, so a Prometheus stores nothing the stack never queries.
The list is not written down anywhere: it is read from the queries themselves (every
panel target and query variable of ``dashboards/*.json``, every recording rule and
alert expression of ``alerts``), so a new panel or rule brings its metrics along.

The names are read with ``builders.promql``, which tells metric names from functions,
keywords, label names, strings, ranges and Grafana variables.

Left out of the keep list: recorded series (names with ``:``, produced by the rules,
never scraped), the series Prometheus writes for every target itself (``up``,
``scrape_*``; metric relabelings never see them), and series of other jobs that an
alert joins with (kube-state-metrics' node condition). Any other selector must be
scoped to the component's job, so that the component it belongs to is never a guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from typing import Any

from alerts import COMPONENTS, NODE_NOT_READY, build_rule_groups
from builders.promql import (
    METRIC_NAME,
    PromQLNameError,
    Selector,
    metric_names,
    selectors,
    variable_query_expr,
)
from dashboards.loading import SHIPPED_DASHBOARDS, shipped_dashboards

# The reader lives in builders.promql; these are used through this module too.
__all__ = ["PromQLNameError", "Selector", "metric_names", "selectors", "variable_query_expr"]

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
    name = SHIPPED_DASHBOARDS[component]
    queries = dashboard_queries(dashboards[name]) if name in dashboards else []
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
        if not METRIC_NAME.match(name) or ":" in name:
            raise ValueError(f"not the name of a scraped metric: {name!r}")
    return {"action": "keep", "sourceLabels": ["__name__"], "regex": "|".join(ordered)}
