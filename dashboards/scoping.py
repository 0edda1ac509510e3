"""Scoping a dashboard's Prometheus queries: the ``job`` it reads, this stack's jobs for an imported
dashboard, and one ``cluster`` of many."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from builders import promql
from dashboards.datasources import DATASOURCE_REF, DATASOURCE_VARIABLE, is_datasource_ref
from dashboards.document import DashboardError, as_list, copy_dashboard, describe, iter_panels, template_variables

JOB_VARIABLE = "job"
CLUSTER_VARIABLE = "cluster"

#: Name prefixes of each Calico component's own metric families.
COMPONENT_PREFIXES: tuple[tuple[str, str], ...] = (
    ("felix_", "felix"),
    ("typha_", "typha"),
    ("ipam_", "kube-controllers"),
)


def set_job(dashboard: dict, job: str, *, copy: bool = True) -> dict:
    """Return a copy of ``dashboard`` whose ``job`` constant variable is ``job`` (in place if not ``copy``)."""
    if not isinstance(dashboard, dict):
        raise DashboardError(f"dashboard: expected a JSON object, got {type(dashboard).__name__}")
    if not isinstance(job, str) or not job.strip():
        raise DashboardError(f"{describe(dashboard)}: the job must be a non-empty string, got {job!r}")
    result = copy_dashboard(dashboard) if copy else dashboard
    variable = next((v for v in template_variables(result) if v.get("name") == JOB_VARIABLE), None)
    if variable is None:
        raise DashboardError(f"{describe(dashboard)}: has no {JOB_VARIABLE!r} template variable to set")
    if variable.get("type") != "constant":
        raise DashboardError(
            f"{describe(dashboard)}: template variable {JOB_VARIABLE!r} is of type "
            f"{variable.get('type')!r}, expected 'constant'"
        )
    variable["query"] = job
    variable["current"] = {"selected": False, "text": job, "value": job}
    variable["options"] = [{"selected": True, "text": job, "value": job}]
    return result


def _with_label(text: str, is_variable: bool, label: str, value: str) -> str:
    if not is_variable:
        return promql.set_label(text, label, lambda _: value)
    span = promql.variable_query_span(text)
    if span is None:
        return text
    start, end = span
    return text[:start] + promql.set_label(text[start:end], label, lambda _: value) + text[end:]


def add_cluster(dashboard: dict, label: str, *, copy: bool = True) -> dict:
    """``dashboard`` with a ``cluster`` variable (the values of ``label`` on the job's targets) and
    ``label="$cluster"`` on every selector of every Prometheus query, for one Grafana over many clusters.

    Call it after ``rewrite_datasources`` and once the job is set (the variable lists ``up{job="$job"}``).
    """
    if not isinstance(label, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", label) or label.startswith("__"):
        raise DashboardError(f"{describe(dashboard)}: the cluster label must be a Prometheus label name, got {label!r}")
    result = copy_dashboard(dashboard) if copy else dashboard
    value = "$" + CLUSTER_VARIABLE
    for holder, key, is_variable in list(_prometheus_queries(result)):
        try:
            holder[key] = _with_label(holder[key], is_variable, label, value)
        except promql.PromQLNameError as err:
            raise DashboardError(f"{describe(dashboard)}: cannot add the cluster matcher: {err}") from None
    variables = template_variables(result)
    if any(v.get("name") == CLUSTER_VARIABLE for v in variables):
        raise DashboardError(f"{describe(dashboard)}: already has a {CLUSTER_VARIABLE!r} template variable")
    query = f'label_values(up{{job="${JOB_VARIABLE}"}}, {label})'
    variable = {
        "current": {},
        "datasource": dict(DATASOURCE_REF),
        "definition": query,
        "description": f"The cluster (Prometheus label {label}) every panel shows.",
        "hide": 0,
        "includeAll": False,
        "label": "Cluster",
        "multi": False,
        "name": CLUSTER_VARIABLE,
        "options": [],
        "query": {"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "regex": "",
        "skipUrlSync": False,
        "sort": 1,
        "type": "query",
    }
    # After the datasource and job variables it reads, before the variables that depend on it.
    position = max(
        (i + 1 for i, v in enumerate(variables) if v.get("name") in (DATASOURCE_VARIABLE, JOB_VARIABLE)), default=0
    )
    result["templating"]["list"].insert(position, variable)
    return result


def _component_of(name: str | None) -> str | None:
    for prefix, component in COMPONENT_PREFIXES:
        if name is not None and name.startswith(prefix):
            return component
    return None


def _prometheus_queries(dashboard: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str, bool]]:
    """(object, key, is a variable query) of every Prometheus query text, after ``rewrite_datasources``."""
    for panel in iter_panels(dashboard):
        for target in as_list(panel.get("targets")):
            if (
                isinstance(target, dict)
                and is_datasource_ref(target.get("datasource"))
                and isinstance(target.get("expr"), str)
            ):
                yield target, "expr", False
    for variable in template_variables(dashboard):
        if variable.get("type") != "query" or not is_datasource_ref(variable.get("datasource")):
            continue
        query = variable.get("query")
        if isinstance(query, dict) and isinstance(query.get("query"), str):
            yield query, "query", True
        elif isinstance(query, str):
            yield variable, "query", True
        if isinstance(variable.get("definition"), str):
            yield variable, "definition", True
    annotations = dashboard.get("annotations")
    for annotation in as_list(annotations.get("list") if isinstance(annotations, dict) else None):
        ours = isinstance(annotation, dict) and is_datasource_ref(annotation.get("datasource"))
        if ours and not annotation.get("builtIn") and isinstance(annotation.get("expr"), str):
            yield annotation, "expr", False


def _scoped_variable_query(text: str, job_of: Callable[[promql.Selector], str | None], job: str) -> str:
    try:
        span = promql.variable_query_span(text)
    except promql.PromQLNameError:
        return text  # metrics(regex): names only, no series
    if span is None:
        match = re.match(r"^(\s*label_values\(\s*)([A-Za-z_]\w*\s*\)\s*)$", text)
        # label_values(label) looks at every series: only this job's
        return f"{match[1]}{{job={promql.string_literal(job)}}}, {match[2]}" if match else text
    start, end = span
    return text[:start] + promql.set_label(text[start:end], "job", job_of) + text[end:]


def scope_to_jobs(dashboard: dict, jobs: Mapping[str, str], *, copy: bool = True) -> dict:
    """Return ``dashboard`` with every Prometheus query scoped to the jobs of this stack.

    For dashboards written for Calico without this stack's job names, such as Calico's own
    (whose queries carry no job selector, or a job of another setup): each selector of a
    ``felix_*``, ``typha_*`` or ``ipam_*`` family gets its component's job, and every other
    selector (``process_*``, ``go_*``, ``up``) the job of the component the dashboard is
    mostly about; a ``job`` matcher already there is replaced. A dashboard that reads no
    Calico family is returned unchanged. Call it after ``rewrite_datasources``: only queries
    on ``${datasource}`` are Prometheus queries.
    """
    result = copy_dashboard(dashboard) if copy else dashboard
    queries = list(_prometheus_queries(result))
    counts: dict[str, int] = {}
    unreadable: list[str] = []
    for holder, key, is_variable in queries:
        text = holder[key]
        try:
            expr = promql.variable_query_expr(text) if is_variable else text
            names = promql.metric_names(expr) if expr else set()
        except promql.PromQLNameError as err:
            unreadable.append(str(err))
            continue
        for name in sorted(names):
            component = _component_of(name)
            if component is not None:
                counts[component] = counts.get(component, 0) + 1
    if not counts:
        return result
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        raise DashboardError(
            f"{describe(dashboard)}: reads as many {ranked[0][0]} as {ranked[1][0]} metrics, so the job of "
            "its other queries (process_*, go_*, up) cannot be told; split it into one dashboard per component"
        )
    if unreadable:
        raise DashboardError(f"{describe(dashboard)}: cannot scope a query to this stack's jobs: {unreadable[0]}")
    main = ranked[0][0]
    missing = sorted(set(counts) - set(jobs))
    if missing:
        raise DashboardError(f"{describe(dashboard)}: no scrape job for {', '.join(missing)}")

    def job_of(selector: promql.Selector) -> str:
        return jobs[_component_of(selector.name) or main]

    for holder, key, is_variable in queries:
        text = holder[key]
        holder[key] = (
            _scoped_variable_query(text, job_of, jobs[main]) if is_variable else promql.set_label(text, "job", job_of)
        )
    return result
