"""Reading dashboards: the shipped ones in this folder, and imports from a ``*.json`` file or a
ConfigMap YAML, each checked to be a Grafana dashboard."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from alerts import DASHBOARD_UIDS
from dashboards.document import DashboardError

#: The file in this folder shipped for each component that has a dashboard, also its ConfigMap key.
SHIPPED_DASHBOARDS: dict[str, str] = {component: f"{component}.json" for component in DASHBOARD_UIDS}
DASHBOARDS_DIR = Path(__file__).resolve().parent


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
    for name in SHIPPED_DASHBOARDS.values():
        dashboards.update(load_dashboard_sources(str(DASHBOARDS_DIR / name)))
    return dashboards
