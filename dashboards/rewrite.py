"""Grafana dashboard JSON as plain data: load, re-point at one data source.

Nothing here imports Pulumi, so every function can be unit-tested on its own.

Data source references a dashboard can contain, all of which
``rewrite_datasources`` points at the ``${datasource}`` template variable when
they mean Prometheus:

* a bare data source name (``"datasource": "calico-demo-prometheus"``), the
  form of dashboards from before Grafana 8.3;
* ``{"type": "prometheus", "uid": "<uid>"}`` with the uid of somebody else's
  data source (``"P11C5FC3F3B681947"``), and the untyped ``{"uid": "<uid>"}``;
* ``${DS_PROMETHEUS}`` placeholders of "export for sharing externally", as a
  string or as the uid of an object, described by an ``__inputs`` entry;
* ``$name`` / ``${name}`` / ``[[name]]`` references to a template variable of
  type ``datasource``;
* ``"datasource": null`` or no ``datasource`` at all on a panel that has
  targets, on a target, on a query variable or on a query annotation: Grafana
  reads that as "the default data source".

They are found on panels, on panels nested in collapsed rows (``panels`` inside
a row) and in the rows of the old ``rows`` layout, on targets, on template
variables and on annotations.

Left as they are: Grafana's built-in sources (``-- Grafana --``, ``grafana``,
``-- Mixed --``, ``-- Dashboard --``, server-side expressions ``__expr__``), and
any reference whose type or ``__inputs`` entry says it is not Prometheus (a
Loki panel stays a Loki panel). A bare name or an unknown uid carries no type;
as these are Prometheus dashboards it is taken to be Prometheus.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

import yaml

from builders import promql

DATASOURCE_VARIABLE = "datasource"
JOB_VARIABLE = "job"
PROMETHEUS = "prometheus"

#: The reference every Prometheus query ends up with.
DATASOURCE_REF: dict[str, str] = {"type": PROMETHEUS, "uid": "${" + DATASOURCE_VARIABLE + "}"}

#: The files in this folder this project ships, by ConfigMap key.
SHIPPED_DASHBOARD_FILES: tuple[str, ...] = ("felix.json", "typha.json", "kube-controllers.json")
DASHBOARDS_DIR = Path(__file__).resolve().parent

# Names and uids of Grafana's own pseudo data sources.
_BUILTIN_REFS = frozenset({"-- Grafana --", "grafana", "-- Mixed --", "-- Dashboard --", "__expr__"})
# Types that are Grafana's own pseudo data sources, never a Prometheus.
_BUILTIN_TYPES = frozenset({"grafana", "datasource", "__expr__"})

_VARIABLE_REF = re.compile(r"^(?:\$(\w+)|\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\])$")

# Outcome of classifying one reference.
_PROM = "prometheus"
_KEEP = "keep"


class DashboardError(ValueError):
    """A dashboard file or object is unusable; the message names it and says why."""


# --------------------------------------------------------------------------- rewrite


def _variable_name(text: str) -> str | None:
    match = _VARIABLE_REF.match(text.strip())
    if not match:
        return None
    return next(group for group in match.groups() if group)


class _References:
    """What a dashboard's ``__inputs`` and data source variables say about references."""

    def __init__(self, dashboard: Mapping[str, Any]) -> None:
        # "DS_PROMETHEUS" -> "prometheus", "DS_LOKI" -> "loki"
        self.inputs: dict[str, str] = {}
        for entry in _as_list(dashboard.get("__inputs")):
            if isinstance(entry, dict) and entry.get("type") == "datasource" and isinstance(entry.get("name"), str):
                self.inputs[entry["name"]] = str(entry.get("pluginId", ""))
        # data source template variables other than ours: name -> plugin type they select
        self.variables: dict[str, str] = {}
        for variable in _template_variables(dashboard):
            name = variable.get("name")
            if variable.get("type") == "datasource" and isinstance(name, str) and name != DATASOURCE_VARIABLE:
                self.variables[name] = str(variable.get("query", ""))

    def classify_variable(self, name: str) -> str:
        if name == DATASOURCE_VARIABLE:
            return _PROM
        if name in self.inputs:
            return _PROM if self.inputs[name] == PROMETHEUS else _KEEP
        if name in self.variables:
            return _PROM if self.variables[name] == PROMETHEUS else _KEEP
        # An unknown placeholder (for example ${DS_PROMETHEUS} with its
        # __inputs stripped): nothing says it is not Prometheus.
        return _PROM

    def classify(self, ref: Any) -> str:
        """_PROM for an explicit reference meaning Prometheus, else _KEEP."""
        if isinstance(ref, str):
            if ref.strip() in _BUILTIN_REFS:
                return _KEEP
            variable = _variable_name(ref)
            return self.classify_variable(variable) if variable else _PROM
        if isinstance(ref, dict) and ("uid" in ref or "type" in ref):
            ref_type, uid = ref.get("type"), ref.get("uid")
            if ref_type == PROMETHEUS:
                return _PROM
            if ref_type in _BUILTIN_TYPES or (isinstance(uid, str) and uid.strip() in _BUILTIN_REFS):
                return _KEEP
            if isinstance(ref_type, str) and ref_type and not _variable_name(ref_type):
                return _KEEP  # typed, and not Prometheus: Loki, Elasticsearch, ...
            if isinstance(uid, str) and _variable_name(uid):
                return self.classify_variable(_variable_name(uid) or "")
            return _PROM  # untyped foreign uid, or the default data source of a Prometheus type
        return _KEEP


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _template_variables(dashboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    templating = dashboard.get("templating")
    if not isinstance(templating, dict):
        return []
    return [v for v in _as_list(templating.get("list")) if isinstance(v, dict)]


def _iter_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel: top level, nested in collapsed rows, and in the old ``rows`` layout."""

    def walk(panels: Any) -> Iterator[dict[str, Any]]:
        for panel in _as_list(panels):
            if isinstance(panel, dict):
                yield panel
                yield from walk(panel.get("panels"))

    yield from walk(dashboard.get("panels"))
    for row in _as_list(dashboard.get("rows")):
        if isinstance(row, dict):
            yield from walk(row.get("panels"))


def _describe(dashboard: Mapping[str, Any]) -> str:
    title = dashboard.get("title") if isinstance(dashboard, Mapping) else None
    uid = dashboard.get("uid") if isinstance(dashboard, Mapping) else None
    text = f"dashboard {title!r}" if title else "dashboard"
    return f"{text} (uid {uid})" if uid else text


def _replace_explicit_refs(node: Any, refs: _References) -> None:
    """Point every explicit Prometheus reference anywhere under ``node`` at ``${datasource}``."""
    if isinstance(node, dict):
        if node.get("builtIn"):
            return  # Grafana's own "Annotations & Alerts" entry
        if "datasource" in node and refs.classify(node["datasource"]) == _PROM:
            node["datasource"] = dict(DATASOURCE_REF)
        for key, value in node.items():
            if key != "datasource":
                _replace_explicit_refs(value, refs)
    elif isinstance(node, list):
        for item in node:
            _replace_explicit_refs(item, refs)


def _is_ours(ref: Any) -> bool:
    return ref == DATASOURCE_REF


def _fill_default_refs(dashboard: dict[str, Any]) -> None:
    """Replace null or missing references that mean "the default data source"."""
    for panel in _iter_panels(dashboard):
        targets = [t for t in _as_list(panel.get("targets")) if isinstance(t, dict)]
        if not targets:
            continue  # rows, text panels: nothing queries a data source
        if panel.get("datasource") is None:
            panel["datasource"] = dict(DATASOURCE_REF)
        panel_ref = panel["datasource"]
        mixed = panel_ref == "-- Mixed --" or (isinstance(panel_ref, dict) and panel_ref.get("uid") == "-- Mixed --")
        if not (_is_ours(panel_ref) or mixed):
            continue  # a Loki or "-- Dashboard --" panel: its targets inherit that
        for target in targets:
            if target.get("datasource") is None:
                target["datasource"] = dict(DATASOURCE_REF)

    for variable in _template_variables(dashboard):
        if variable.get("type") in ("query", "adhoc") and variable.get("datasource") is None:
            variable["datasource"] = dict(DATASOURCE_REF)

    annotations = dashboard.get("annotations")
    for annotation in _as_list(annotations.get("list") if isinstance(annotations, dict) else None):
        if (
            isinstance(annotation, dict)
            and not annotation.get("builtIn")
            and annotation.get("datasource") is None
            and "expr" in annotation
        ):
            annotation["datasource"] = dict(DATASOURCE_REF)


def _datasource_variable(datasource_uid: str) -> dict[str, Any]:
    return {
        "current": {"selected": False, "text": datasource_uid, "value": datasource_uid},
        "hide": 0,
        "includeAll": False,
        "label": "Data source",
        "multi": False,
        "name": DATASOURCE_VARIABLE,
        "options": [],
        "query": PROMETHEUS,
        "refresh": 1,
        "regex": "",
        "skipUrlSync": False,
        "type": "datasource",
    }


def _set_datasource_variable(dashboard: dict[str, Any], datasource_uid: str, refs: _References) -> None:
    templating = dashboard.get("templating")
    if not isinstance(templating, dict):
        templating = dashboard["templating"] = {}
    variables = templating.get("list")
    if not isinstance(variables, list):
        variables = templating["list"] = []

    # Other data source variables selecting Prometheus no longer have any
    # reference pointing at them: drop them rather than leave a dead dropdown.
    variables[:] = [
        v
        for v in variables
        if not (
            isinstance(v, dict)
            and v.get("type") == "datasource"
            and v.get("name") in refs.variables
            and refs.variables[v["name"]] == PROMETHEUS
        )
    ]

    ours = next((v for v in variables if isinstance(v, dict) and v.get("name") == DATASOURCE_VARIABLE), None)
    if ours is None:
        variables.insert(0, _datasource_variable(datasource_uid))
        return
    if ours.get("type") != "datasource":
        raise DashboardError(
            f"{_describe(dashboard)}: template variable {DATASOURCE_VARIABLE!r} is of type "
            f"{ours.get('type')!r}, expected 'datasource'"
        )
    if ours.get("query", PROMETHEUS) != PROMETHEUS:
        raise DashboardError(
            f"{_describe(dashboard)}: template variable {DATASOURCE_VARIABLE!r} selects "
            f"{ours.get('query')!r} data sources, expected 'prometheus'"
        )
    ours["query"] = PROMETHEUS
    ours["current"] = {"selected": False, "text": datasource_uid, "value": datasource_uid}
    ours["options"] = []
    # Every reference is a single ${datasource}: several values cannot work.
    ours["multi"] = False
    ours["includeAll"] = False


def _prune_inputs(dashboard: dict[str, Any]) -> None:
    """Drop ``__inputs`` entries for Prometheus data sources: nothing refers to them any more.

    ``__requires`` stays: the dashboard still needs the Prometheus plugin, and
    Grafana only reads it on import.
    """
    inputs = dashboard.get("__inputs")
    if not isinstance(inputs, list):
        return
    kept = [
        entry
        for entry in inputs
        if not (isinstance(entry, dict) and entry.get("type") == "datasource" and entry.get("pluginId") == PROMETHEUS)
    ]
    if kept:
        dashboard["__inputs"] = kept
    else:
        del dashboard["__inputs"]


def _copy(dashboard: dict) -> dict:
    """A deep copy; dashboards are plain JSON, and a JSON round trip copies them far faster than deepcopy."""
    try:
        return json.loads(json.dumps(dashboard))
    except (TypeError, ValueError) as err:
        raise DashboardError(f"{_describe(dashboard)}: is not plain JSON: {err}") from None


def rewrite_datasources(dashboard: dict, datasource_uid: str, *, copy: bool = True) -> dict:
    """Return a copy of ``dashboard`` whose Prometheus queries all use ``${datasource}``.

    The ``datasource`` template variable (type ``datasource``, query
    ``prometheus``) is added when missing, and its current value is set to
    ``datasource_uid``. The argument is not modified unless ``copy`` is false
    (for a dashboard the caller has just loaded and owns).
    """
    if not isinstance(dashboard, dict):
        raise DashboardError(f"dashboard: expected a JSON object, got {type(dashboard).__name__}")
    if not isinstance(datasource_uid, str) or not datasource_uid.strip():
        raise DashboardError(f"{_describe(dashboard)}: the data source uid must be a non-empty string")
    result = _copy(dashboard) if copy else dashboard
    refs = _References(result)
    _replace_explicit_refs(result, refs)
    _fill_default_refs(result)
    _set_datasource_variable(result, datasource_uid, refs)
    _prune_inputs(result)
    return result


def set_job(dashboard: dict, job: str, *, copy: bool = True) -> dict:
    """Return a copy of ``dashboard`` whose ``job`` constant variable is ``job`` (in place if not ``copy``)."""
    if not isinstance(dashboard, dict):
        raise DashboardError(f"dashboard: expected a JSON object, got {type(dashboard).__name__}")
    if not isinstance(job, str) or not job.strip():
        raise DashboardError(f"{_describe(dashboard)}: the job must be a non-empty string, got {job!r}")
    result = _copy(dashboard) if copy else dashboard
    variable = next((v for v in _template_variables(result) if v.get("name") == JOB_VARIABLE), None)
    if variable is None:
        raise DashboardError(f"{_describe(dashboard)}: has no {JOB_VARIABLE!r} template variable to set")
    if variable.get("type") != "constant":
        raise DashboardError(
            f"{_describe(dashboard)}: template variable {JOB_VARIABLE!r} is of type "
            f"{variable.get('type')!r}, expected 'constant'"
        )
    variable["query"] = job
    variable["current"] = {"selected": False, "text": job, "value": job}
    variable["options"] = [{"selected": True, "text": job, "value": job}]
    return result


# --------------------------------------------------------------------------- cluster, thresholds

CLUSTER_VARIABLE = "cluster"

#: Panels that draw the threshold of the alert they mirror, by dashboard key and panel title:
#: their highest threshold step is that alert's threshold, moved by alerts.overrides.
ALERT_PANELS: dict[tuple[str, str], str] = {
    ("felix.json", "Dataplane apply time, 99th percentile"): "CalicoFelixDataplaneApplySlow",
    ("felix.json", "Datastore resyncs per 15 minutes"): "CalicoFelixFrequentResyncs",
    ("felix.json", "Felix process restarts per 15 minutes"): "CalicoFelixRestarting",
    ("felix.json", "Resyncing or restarting"): "CalicoFelixResyncsWidespread",
    ("typha.json", "Ping round trip, 99th percentile"): "CalicoTyphaPingSlow",
    ("typha.json", "Client lag, 99th percentile"): "CalicoTyphaClientsLagging",
    ("kube-controllers.json", "Fullest pool"): "CalicoIPPoolNearlyExhausted",
    ("kube-controllers.json", "Pool utilisation"): "CalicoIPPoolNearlyExhausted",
}


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
        raise DashboardError(
            f"{_describe(dashboard)}: the cluster label must be a Prometheus label name, got {label!r}"
        )
    result = _copy(dashboard) if copy else dashboard
    value = "$" + CLUSTER_VARIABLE
    for holder, key, is_variable in list(_prometheus_queries(result)):
        try:
            holder[key] = _with_label(holder[key], is_variable, label, value)
        except promql.PromQLNameError as err:
            raise DashboardError(f"{_describe(dashboard)}: cannot add the cluster matcher: {err}") from None
    variables = _template_variables(result)
    if any(v.get("name") == CLUSTER_VARIABLE for v in variables):
        raise DashboardError(f"{_describe(dashboard)}: already has a {CLUSTER_VARIABLE!r} template variable")
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


def set_alert_thresholds(dashboard: dict, key: str, thresholds: Mapping[str, float], *, copy: bool = True) -> dict:
    """``dashboard`` (ConfigMap key ``key``) with each panel of ``ALERT_PANELS`` drawing its alert's threshold."""
    result = _copy(dashboard) if copy else dashboard
    for panel in _iter_panels(result):
        alert = ALERT_PANELS.get((key, panel.get("title")))
        if alert is None or alert not in thresholds:
            continue
        value = thresholds[alert]
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        last = dict(steps[-1], value=value)
        # Steps below the last that would now sit above it (an override lowered the threshold) go.
        steps[:] = [s for s in steps[:-1] if s.get("value") is None or s["value"] < value] + [last]
    return result


# --------------------------------------------------------------------------- scope imports

#: Name prefixes of each Calico component's own metric families.
COMPONENT_PREFIXES: tuple[tuple[str, str], ...] = (
    ("felix_", "felix"),
    ("typha_", "typha"),
    ("ipam_", "kube-controllers"),
)


def _component_of(name: str | None) -> str | None:
    for prefix, component in COMPONENT_PREFIXES:
        if name is not None and name.startswith(prefix):
            return component
    return None


def _prometheus_queries(dashboard: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str, bool]]:
    """(object, key, is a variable query) of every Prometheus query text, after ``rewrite_datasources``."""
    for panel in _iter_panels(dashboard):
        for target in _as_list(panel.get("targets")):
            if isinstance(target, dict) and _is_ours(target.get("datasource")) and isinstance(target.get("expr"), str):
                yield target, "expr", False
    for variable in _template_variables(dashboard):
        if variable.get("type") != "query" or not _is_ours(variable.get("datasource")):
            continue
        query = variable.get("query")
        if isinstance(query, dict) and isinstance(query.get("query"), str):
            yield query, "query", True
        elif isinstance(query, str):
            yield variable, "query", True
        if isinstance(variable.get("definition"), str):
            yield variable, "definition", True
    annotations = dashboard.get("annotations")
    for annotation in _as_list(annotations.get("list") if isinstance(annotations, dict) else None):
        ours = isinstance(annotation, dict) and _is_ours(annotation.get("datasource"))
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
    result = _copy(dashboard) if copy else dashboard
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
            f"{_describe(dashboard)}: reads as many {ranked[0][0]} as {ranked[1][0]} metrics, so the job of "
            "its other queries (process_*, go_*, up) cannot be told; split it into one dashboard per component"
        )
    if unreadable:
        raise DashboardError(f"{_describe(dashboard)}: cannot scope a query to this stack's jobs: {unreadable[0]}")
    main = ranked[0][0]
    missing = sorted(set(counts) - set(jobs))
    if missing:
        raise DashboardError(f"{_describe(dashboard)}: no scrape job for {', '.join(missing)}")

    def job_of(selector: promql.Selector) -> str:
        return jobs[_component_of(selector.name) or main]

    for holder, key, is_variable in queries:
        text = holder[key]
        holder[key] = (
            _scoped_variable_query(text, job_of, jobs[main]) if is_variable else promql.set_label(text, "job", job_of)
        )
    return result


# --------------------------------------------------------------------------- load


def _check_dashboard(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DashboardError(f"{where}: not a Grafana dashboard: expected a JSON object, got {type(value).__name__}")
    if not isinstance(value.get("panels"), list) and not isinstance(value.get("rows"), list):
        raise DashboardError(f"{where}: not a Grafana dashboard: it has no 'panels' or 'rows' list")
    title = value.get("title")
    if not isinstance(title, str) or not title.strip():
        raise DashboardError(f"{where}: not a Grafana dashboard: it has no 'title'")
    return value


def _parse_dashboard_json(text: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise DashboardError(f"{where}: invalid JSON at line {err.lineno} column {err.colno}: {err.msg}") from None
    return _check_dashboard(value, where)


def _kubernetes_objects(
    documents: list[Any], where: str, label: str = "document"
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(description, object) for each ConfigMap, unpacking ``kind: List``; skips other kinds."""
    for index, document in enumerate(documents, start=1):
        if document is None:
            continue  # an empty document, e.g. after a trailing ---
        if not isinstance(document, dict):
            raise DashboardError(f"{where}: {label} {index} is not a Kubernetes object (got {type(document).__name__})")
        if document.get("kind") == "List":
            items = document.get("items")
            if not isinstance(items, list):
                raise DashboardError(f"{where}: {label} {index} is a List without an 'items' list")
            yield from _kubernetes_objects(items, where, f"{label} {index}, item")
        elif document.get("kind") == "ConfigMap":
            metadata = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
            name = metadata.get("name", "<unnamed>")
            namespace = metadata.get("namespace")
            yield (f"ConfigMap {namespace}/{name}" if namespace else f"ConfigMap {name}"), document


def _load_configmaps(text: str, where: str) -> dict[str, dict[str, Any]]:
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or " ".join(str(err).split())
        position = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        raise DashboardError(f"{where}: invalid YAML{position}: {problem}") from None
    dashboards: dict[str, dict[str, Any]] = {}
    configmaps = 0
    for description, configmap in _kubernetes_objects(documents, where):
        configmaps += 1
        data = configmap.get("data")
        keys = sorted(k for k in data if isinstance(k, str) and k.endswith(".json")) if isinstance(data, dict) else []
        if not keys:
            raise DashboardError(f"{where}: {description} has no data keys ending in .json")
        for key in keys:
            key_where = f"{where}: {description}, key {key}"
            if not isinstance(data[key], str):
                raise DashboardError(f"{key_where}: expected a string, got {type(data[key]).__name__}")
            if key in dashboards:
                raise DashboardError(f"{key_where}: a dashboard with this key appears earlier in the file")
            dashboards[key] = _parse_dashboard_json(data[key], key_where)
    if configmaps == 0:
        raise DashboardError(f"{where}: no ConfigMap found (expected kind: ConfigMap, or a List of them)")
    return dashboards


def load_dashboard_sources(path: str) -> dict[str, dict]:
    """Dashboards from a ``*.json`` file ({basename: dashboard}) or a ConfigMap YAML ({key: dashboard}).

    A YAML file may hold several documents and ``kind: List`` objects; objects
    of other kinds are skipped, and every ConfigMap must have at least one
    ``*.json`` data key. Anything unusable raises ``DashboardError`` naming the
    file (and the ConfigMap key) and the reason.
    """
    where = os.fspath(path)
    suffix = Path(where).suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise DashboardError(f"{where}: unsupported file type {suffix or '(none)'!r}: expected .json, .yaml or .yml")
    try:
        raw = Path(where).read_bytes()
    except OSError as err:
        raise DashboardError(f"{where}: cannot read the file: {err.strerror or err}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DashboardError(f"{where}: not UTF-8 text (byte {err.start}): {err.reason}") from None
    if suffix == ".json":
        return {Path(where).name: _parse_dashboard_json(text, where)}
    return _load_configmaps(text, where)


def shipped_dashboards() -> dict[str, dict]:
    """This project's dashboards from ``dashboards/``, keyed by file name."""
    dashboards: dict[str, dict] = {}
    for name in SHIPPED_DASHBOARD_FILES:
        dashboards.update(load_dashboard_sources(str(DASHBOARDS_DIR / name)))
    return dashboards


# --------------------------------------------------------------------------- output


def canonical_json(dashboard: dict) -> str:
    """Deterministic text for a dashboard: sorted keys, 2-space indent, UTF-8 kept, final newline.

    The same text as ``json.dumps(sort_keys=True, indent=2, ensure_ascii=False)``, written
    directly: the standard library falls back to its slow pure-Python encoder whenever
    ``indent`` is set, and this runs on every evaluation of the program.
    """
    parts: list[str] = []
    try:
        _write_indented(dashboard, "", parts.append)
    except (TypeError, ValueError) as err:
        raise DashboardError(f"{_describe(dashboard)}: cannot be written as JSON: {err}") from None
    parts.append("\n")
    return "".join(parts)


def _write_indented(value: Any, indent: str, write: Callable[[str], Any]) -> None:
    if isinstance(value, str):
        write(encode_basestring(value))
    elif value is None or isinstance(value, bool):
        write("null" if value is None else "true" if value else "false")
    elif isinstance(value, int):
        write(int.__repr__(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"out of range float value: {value!r}")
        write(float.__repr__(value))
    elif isinstance(value, dict):
        if not value:
            write("{}")
            return
        inner = indent + "  "
        separator = "{\n" + inner
        for key in sorted(value):
            if not isinstance(key, str):
                raise TypeError(f"keys must be strings, got {key!r}")
            write(separator)
            write(encode_basestring(key))
            write(": ")
            _write_indented(value[key], inner, write)
            separator = ",\n" + inner
        write("\n" + indent + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            write("[]")
            return
        inner = indent + "  "
        separator = "[\n" + inner
        for item in value:
            write(separator)
            _write_indented(item, inner, write)
            separator = ",\n" + inner
        write("\n" + indent + "]")
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
