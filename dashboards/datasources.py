"""Pointing every Prometheus query of a Grafana dashboard at the ``${datasource}`` template variable.

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

import re
from collections.abc import Mapping
from typing import Any

from dashboards.document import DashboardError, as_list, copy_dashboard, describe, iter_panels, template_variables

DATASOURCE_VARIABLE = "datasource"
PROMETHEUS = "prometheus"

#: The reference every Prometheus query ends up with.
DATASOURCE_REF: dict[str, str] = {"type": PROMETHEUS, "uid": "${" + DATASOURCE_VARIABLE + "}"}

# Names and uids of Grafana's own pseudo data sources.
_BUILTIN_REFS = frozenset({"-- Grafana --", "grafana", "-- Mixed --", "-- Dashboard --", "__expr__"})
# Types that are Grafana's own pseudo data sources, never a Prometheus.
_BUILTIN_TYPES = frozenset({"grafana", "datasource", "__expr__"})

_VARIABLE_REF = re.compile(r"^(?:\$(\w+)|\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\])$")

# Outcome of classifying one reference.
_PROM = "prometheus"
_KEEP = "keep"


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
        for entry in as_list(dashboard.get("__inputs")):
            if isinstance(entry, dict) and entry.get("type") == "datasource" and isinstance(entry.get("name"), str):
                self.inputs[entry["name"]] = str(entry.get("pluginId", ""))
        # data source template variables other than ours: name -> plugin type they select
        self.variables: dict[str, str] = {}
        for variable in template_variables(dashboard):
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


def is_datasource_ref(ref: Any) -> bool:
    """Whether ``ref`` is the ``${datasource}`` reference ``rewrite_datasources`` gives every Prometheus query."""
    return ref == DATASOURCE_REF


def _fill_default_refs(dashboard: dict[str, Any]) -> None:
    """Replace null or missing references that mean "the default data source"."""
    for panel in iter_panels(dashboard):
        targets = [t for t in as_list(panel.get("targets")) if isinstance(t, dict)]
        if not targets:
            continue  # rows, text panels: nothing queries a data source
        if panel.get("datasource") is None:
            panel["datasource"] = dict(DATASOURCE_REF)
        panel_ref = panel["datasource"]
        mixed = panel_ref == "-- Mixed --" or (isinstance(panel_ref, dict) and panel_ref.get("uid") == "-- Mixed --")
        if not (is_datasource_ref(panel_ref) or mixed):
            continue  # a Loki or "-- Dashboard --" panel: its targets inherit that
        for target in targets:
            if target.get("datasource") is None:
                target["datasource"] = dict(DATASOURCE_REF)

    for variable in template_variables(dashboard):
        if variable.get("type") in ("query", "adhoc") and variable.get("datasource") is None:
            variable["datasource"] = dict(DATASOURCE_REF)

    annotations = dashboard.get("annotations")
    for annotation in as_list(annotations.get("list") if isinstance(annotations, dict) else None):
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
            f"{describe(dashboard)}: template variable {DATASOURCE_VARIABLE!r} is of type "
            f"{ours.get('type')!r}, expected 'datasource'"
        )
    if ours.get("query", PROMETHEUS) != PROMETHEUS:
        raise DashboardError(
            f"{describe(dashboard)}: template variable {DATASOURCE_VARIABLE!r} selects "
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
        raise DashboardError(f"{describe(dashboard)}: the data source uid must be a non-empty string")
    result = copy_dashboard(dashboard) if copy else dashboard
    refs = _References(result)
    _replace_explicit_refs(result, refs)
    _fill_default_refs(result)
    _set_datasource_variable(result, datasource_uid, refs)
    _prune_inputs(result)
    return result
