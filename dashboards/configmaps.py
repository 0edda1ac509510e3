"""The ConfigMaps that carry the dashboards: the shipped ones set to the stack's jobs and
datasource, imported ones re-pointed and scoped the same way; one ConfigMap per dashboard.

Plain data, no Pulumi: ``components/dashboards.py`` (CalicoDashboards) creates what this returns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alerts import alert_thresholds
from builders.manifests import MANAGED_BY
from configuration import DashboardSettings
from dashboards.datasources import rewrite_datasources
from dashboards.document import DashboardError, canonical_json
from dashboards.loading import SHIPPED_DASHBOARDS, load_dashboard_sources, shipped_dashboards
from dashboards.scoping import add_cluster, scope_to_jobs, set_job
from dashboards.thresholds import set_alert_thresholds

PROJECT_DIR = Path(__file__).resolve().parent.parent
FOLDER_ANNOTATION = "grafana_folder"  # kube-prometheus-stack's sidecar.dashboards.folderAnnotation
DEFAULT_CONFIGMAP_LIMIT_BYTES = 256 * 1024


def dashboard_files(
    settings: DashboardSettings,
    jobs: dict[str, str],
    import_jobs: dict[str, str] | None = None,
    alert_overrides: Mapping[str, Mapping[str, object]] | None = None,
) -> dict[str, str]:
    """ConfigMap key -> canonical dashboard JSON; raises DashboardError naming a bad import.

    The shipped dashboards draw each mirrored alert's threshold as ``alert_overrides`` set it,
    and with ``settings.cluster_label`` select one cluster in every query. Imported dashboards
    that read Calico metrics get their queries scoped to ``import_jobs`` (the job of every
    component, scraped or not; ``jobs`` when not given).
    """
    # Every dashboard here was just read from disk and is ours to change in place.
    shipped = shipped_dashboards()
    thresholds = alert_thresholds(alert_overrides)
    files: dict[str, str] = {}
    for component, job in jobs.items():
        key = SHIPPED_DASHBOARDS[component]
        dashboard = set_job(shipped[key], job, copy=False)
        dashboard = rewrite_datasources(dashboard, settings.datasource, copy=False)
        dashboard = set_alert_thresholds(dashboard, key, thresholds, copy=False)
        if settings.cluster_label is not None:
            dashboard = add_cluster(dashboard, settings.cluster_label, copy=False)
        files[key] = canonical_json(dashboard)
    for path in settings.imports:
        location = Path(path) if Path(path).is_absolute() else PROJECT_DIR / path
        for key, dashboard in sorted(load_dashboard_sources(str(location)).items()):
            if key in files:
                raise DashboardError(f"{path}: dashboard key {key!r} is already used by another dashboard")
            dashboard = rewrite_datasources(dashboard, settings.datasource, copy=False)
            files[key] = canonical_json(scope_to_jobs(dashboard, import_jobs or jobs, copy=False))
    return files


def configmap_sizes(files: dict[str, str], limit_bytes: int = DEFAULT_CONFIGMAP_LIMIT_BYTES) -> dict[str, int]:
    """Each entry's size in a ConfigMap: the UTF-8 length of its key and of its value as a JSON
    string (quotes and escapes included: how the API server and kubectl's last-applied
    annotation carry it). Raises ``DashboardError`` naming the first entry over ``limit_bytes``."""
    if not isinstance(limit_bytes, int) or isinstance(limit_bytes, bool) or limit_bytes <= 0:
        raise DashboardError(f"ConfigMap size limit must be a positive number of bytes, got {limit_bytes!r}")
    sizes: dict[str, int] = {}
    for key, text in files.items():
        if not isinstance(key, str) or not isinstance(text, str):
            raise DashboardError(f"{key}: ConfigMap keys and values must be strings")
        sizes[key] = len(key.encode("utf-8")) + len(json.dumps(text, ensure_ascii=False).encode("utf-8"))
    too_large = sorted(key for key, size in sizes.items() if size > limit_bytes)
    if too_large:
        key = too_large[0]
        raise DashboardError(
            f"{key}: {sizes[key]} bytes (key and content) is more than the ConfigMap limit of {limit_bytes} bytes"
        )
    return sizes


def configmap_name(key: str) -> str:
    """`felix.json` -> `calico-dashboard-felix`: one stable ConfigMap name per dashboard key."""
    stem = key[: -len(".json")] if key.endswith(".json") else key
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:200] or "dashboard"
    return f"calico-dashboard-{slug}"


def dashboard_configmaps(settings: DashboardSettings, files: dict[str, str]) -> list[dict[str, Any]]:
    """One ConfigMap per dashboard, named after its key: an edit updates that ConfigMap in place,
    and adding or removing a dashboard never renames the others (Grafana's sidecar removes a
    dashboard when the ConfigMap that carried it goes)."""
    configmap_sizes(files)  # one dashboard over the ConfigMap limit stops the program, naming it
    manifests = []
    names: dict[str, str] = {}
    for key in sorted(files):
        name = configmap_name(key)
        if name in names:
            raise DashboardError(f"dashboards {names[name]!r} and {key!r} would share the ConfigMap name {name!r}")
        names[name] = key
        metadata: dict[str, Any] = {
            "name": name,
            "namespace": settings.namespace,
            "labels": {**MANAGED_BY, **dict(settings.labels)},
        }
        annotations = dict(settings.annotations)
        if settings.folder is not None:
            annotations[FOLDER_ANNOTATION] = settings.folder
        if annotations:
            metadata["annotations"] = annotations
        manifests.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {key: files[key]}})
    return manifests
