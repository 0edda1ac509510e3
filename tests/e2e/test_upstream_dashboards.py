"""Calico's own dashboards (manifests/grafana-dashboards.yaml of the pinned Calico module) imported by the program."""

from __future__ import annotations

import json

import pytest

from builders.promql import selectors
from dashboards.datasources import rewrite_datasources
from dashboards.loading import load_dashboard_sources
from tests.e2e.cluster import calico_manifests
from tests.support.grafana import datasource_variable, foreign_refs, panel_queries, queries_without_datasource
from tools.evaluator.mock_engine import evaluate

pytestmark = pytest.mark.e2e
BASE = {"kubernetes:context": "c", "calico-monitoring:datastore": {"type": "kubernetes"}}
UID = "prom-main-7f3a"


def upstream() -> str:
    path = calico_manifests() / "grafana-dashboards.yaml"
    assert "calico-demo-prometheus" in path.read_text()  # it still has the references the rewrite removes
    return str(path)


def test_upstream_calico_dashboards_have_no_foreign_references_after_rewrite():
    dashboards = load_dashboard_sources(upstream())
    assert dashboards, "the upstream ConfigMap holds dashboards"
    for key, dashboard in dashboards.items():
        assert foreign_refs(dashboard), f"{key}: the upstream file should have references to rewrite"
        rewritten = rewrite_datasources(dashboard, UID)
        assert foreign_refs(rewritten) == [], key
        assert queries_without_datasource(rewritten) == [], key
        assert datasource_variable(rewritten)["current"]["value"] == UID


def test_the_official_calico_configmap_imports_with_every_datasource_rewritten():
    config = {**BASE, "calico-monitoring:dashboards": {"import": [upstream()]}}
    data = {}
    for registration in evaluate(config).by_type("kubernetes:core/v1:ConfigMap"):
        config_map = registration.plain_inputs
        assert len(json.dumps(config_map["data"]).encode()) < 256 * 1024
        data.update(config_map["data"])
    imported = {
        key: json.loads(text) for key, text in data.items() if key not in ("felix.json", "kube-controllers.json")
    }
    assert imported, "the upstream ConfigMap should contribute dashboards"
    for key, dashboard in imported.items():
        assert foreign_refs(dashboard) == [], key
        assert datasource_variable(dashboard)["current"]["value"] == "prometheus"


def unscoped(name: str, dashboard: dict, job: str) -> list[str]:
    """Panel queries with a selector that does not carry ``job="<job>"``."""
    return [q.expr for q in panel_queries(name, dashboard) if q.expr.count(f'job="{job}"') != len(selectors(q.expr))]


def test_imported_upstream_panels_read_only_this_stacks_jobs():
    jobs = {"felix-dashboard.json": "monitoring/felix", "typha-dashboard.json": "monitoring/calico-typha"}
    raw = load_dashboard_sources(upstream())
    # Upstream queries carry no job selector, and its Typha panels name a job of their own.
    assert unscoped("felix-dashboard.json", raw["felix-dashboard.json"], jobs["felix-dashboard.json"])
    assert "typha_metrics" in json.dumps(raw["typha-dashboard.json"])
    config = {**BASE, "calico-monitoring:dashboards": {"import": [upstream()]}}
    data = {}
    for registration in evaluate(config).by_type("kubernetes:core/v1:ConfigMap"):
        data.update(registration.plain_inputs["data"])
    for key, job in jobs.items():
        imported = json.loads(data[key])
        assert panel_queries(key, imported), f"{key}: no panel queries imported"
        assert unscoped(key, imported, job) == [], key
        assert "typha_metrics" not in data[key]
