"""Imported dashboards scoped to this stack's jobs (``dashboards.import``).

The fixture tests/fixtures/dashboards/calico-upstream-shaped.yaml is hand-written in the
shape of Calico's own grafana-dashboards.yaml: Felix queries with no job selector, Typha
queries that hard-code another setup's job. After the import every Prometheus selector of
a Calico dashboard names this stack's job of its component, and against a real Prometheus
the scoped queries parse and see only that job, where the unscoped ones see every job.
"""

from __future__ import annotations

import copy
import json

import pytest

from builders.promql import selectors, variable_query_expr
from dashboards.datasources import rewrite_datasources
from dashboards.document import DashboardError
from dashboards.loading import load_dashboard_sources
from dashboards.scoping import scope_to_jobs
from tests.integration.dashboards.test_keep_only_used_metrics import prometheus, settled_time  # noqa: F401 (the fixture)
from tests.paths import FIXTURES
from tests.support.grafana import iter_panels, substitute, unresolved_variables
from tools.evaluator.mock_engine import evaluate

FIXTURE = FIXTURES / "dashboards" / "calico-upstream-shaped.yaml"
JOBS = {"felix": "obs/calico-felix", "typha": "obs/typha", "kube-controllers": "obs/kc"}
BASE = {"kubernetes:context": "c", "calico-monitoring:datastore": {"type": "kubernetes"}}


def imported(jobs=JOBS) -> dict[str, dict]:
    return {
        key: scope_to_jobs(rewrite_datasources(dashboard, "prometheus"), jobs)
        for key, dashboard in load_dashboard_sources(str(FIXTURE)).items()
    }


def prometheus_texts(dashboard: dict, variables: bool = True) -> list[str]:
    """Every Prometheus query of a dashboard after the import (and the PromQL of its variables)."""
    out = []
    for panel in iter_panels(dashboard):
        for target in panel.get("targets") or []:
            if target.get("datasource", {}).get("uid") == "${datasource}" and target.get("expr"):
                out.append(target["expr"])
    for variable in dashboard["templating"]["list"] if variables else []:
        if variable.get("type") == "query":
            found = (variable_query_expr(variable["query"]), variable_query_expr(variable["definition"]))
            out += [expr for expr in found if expr]
    return out


def test_every_selector_of_a_calico_dashboard_names_its_components_job():
    dashboards = imported()
    expected = {"felix-dashboard.json": "obs/calico-felix", "typha-dashboard.json": "obs/typha"}
    for key, job in expected.items():
        texts = prometheus_texts(dashboards[key])
        assert len(texts) >= 6, key
        for text in texts:
            for selector in selectors(text):
                assert selector.labels.count("job") == 1, (key, text)
            assert text.count(f'job="{job}"') == len(selectors(text)), (key, text)
        assert "typha_metrics" not in json.dumps(dashboards[key])


def test_a_selector_of_another_components_family_gets_that_components_job():
    dashboard = copy.deepcopy(load_dashboard_sources(str(FIXTURE))["felix-dashboard.json"])
    panel = next(p for p in iter_panels(dashboard) if p.get("targets"))
    panel["targets"].append({"refId": "Z", "expr": "max(typha_connections_active) + max(ipam_blocks)"})
    scoped = scope_to_jobs(rewrite_datasources(dashboard, "prometheus"), JOBS)
    exprs = [t["expr"] for p in iter_panels(scoped) for t in p.get("targets") or [] if t.get("refId") == "Z"]
    assert exprs == ['max(typha_connections_active{job="obs/typha"}) + max(ipam_blocks{job="obs/kc"})']


def test_variables_are_scoped_too():
    variables = {v["name"]: v for v in imported()["felix-dashboard.json"]["templating"]["list"]}
    scoped = 'label_values(felix_resync_state{job="obs/calico-felix"}, instance)'
    assert variables["instance"]["query"]["query"] == scoped and variables["instance"]["definition"] == scoped
    assert variables["node"]["query"] == 'label_values({job="obs/calico-felix"}, node)'
    assert variables["top_n"]["query"] == "10,50" and variables["instance_label"]["query"] == "{{instance}}"


def test_what_is_not_a_prometheus_query_of_a_calico_dashboard_stays_as_it_is():
    original = load_dashboard_sources(str(FIXTURE))
    dashboards = imported()
    # the Loki panel
    panels = iter_panels(dashboards["felix-dashboard.json"])
    [loki] = [p for p in panels if p.get("datasource", {}).get("type") == "loki"]
    [before] = [p for p in iter_panels(original["felix-dashboard.json"]) if p["id"] == loki["id"]]
    assert loki["targets"][0]["expr"] == before["targets"][0]["expr"]
    # a dashboard that reads no Calico family: only its data sources change
    assert dashboards["nodes-dashboard.json"] == rewrite_datasources(original["nodes-dashboard.json"], "prometheus")


def test_scoping_is_idempotent_and_leaves_its_argument_alone():
    once = imported()
    for key, dashboard in once.items():
        assert scope_to_jobs(dashboard, JOBS) == dashboard, key
    raw = load_dashboard_sources(str(FIXTURE))["typha-dashboard.json"]
    text = json.dumps(raw, sort_keys=True)
    scope_to_jobs(rewrite_datasources(raw, "prometheus"), JOBS)
    assert json.dumps(raw, sort_keys=True) == text


def test_a_dashboard_that_cannot_be_scoped_stops_the_import_naming_it():
    dashboard = {"title": "Half and half", "panels": [{"type": "timeseries", "targets": [
        {"refId": "A", "expr": "max(felix_resync_state) + max(typha_cache_size) + process_open_fds"}]}]}  # fmt: skip
    with pytest.raises(DashboardError, match=r"'Half and half'.*as many felix as typha"):
        scope_to_jobs(rewrite_datasources(dashboard, "prometheus"), JOBS)
    dashboard["panels"][0]["targets"][0]["expr"] = "max(felix_resync_state)"
    dashboard["panels"][0]["targets"].append({"refId": "B", "expr": 'max(felix_resync_state) + a{job="x"'})
    with pytest.raises(DashboardError, match="'Half and half': cannot scope"):
        scope_to_jobs(rewrite_datasources(dashboard, "prometheus"), JOBS)
    del dashboard["panels"][0]["targets"][1]
    with pytest.raises(DashboardError, match="no scrape job for felix"):
        scope_to_jobs(rewrite_datasources(dashboard, "prometheus"), {"typha": "obs/typha"})


def test_the_program_scopes_imports_to_the_stacks_jobs_even_for_a_component_it_does_not_scrape():
    config = {
        **BASE,
        "calico-monitoring:podMonitor": {"name": "calico-felix", "namespace": "obs"},
        "calico-monitoring:typha": {"enabled": False, "monitorName": "typha"},
        "calico-monitoring:dashboards": {"import": [str(FIXTURE)]},
    }
    data = {}
    for registration in evaluate(config).by_type("kubernetes:core/v1:ConfigMap"):
        data.update(registration.plain_inputs["data"])
    felix, typha = json.loads(data["felix-dashboard.json"]), json.loads(data["typha-dashboard.json"])
    assert all('job="obs/calico-felix"' in text for text in prometheus_texts(felix))
    # Typha is not scraped by this stack: its panels name the job it would have, and show no data.
    assert all('job="obs/typha"' in text for text in prometheus_texts(typha))
    assert "typha.json" not in data


# --------------------------------------------------------------------------- a real Prometheus

# The jobs of test_keep_only_used_metrics' Prometheus: every fixture scraped as full/<name> and
# kept/<name>, so a Felix query without a job sees eight Felix jobs.
REAL_JOBS = {
    "felix": "full/felix-iptables-quiet",
    "typha": "full/typha-quiet",
    "kube-controllers": "full/kube-controllers-quiet",
}
VALUES = {"top_n": "10", "__rate_interval": "15s"}


def test_scoped_queries_parse_and_see_only_the_stacks_job(prometheus):  # noqa: F811
    now = settled_time(prometheus)
    originals = load_dashboard_sources(str(FIXTURE))
    scoped = imported(REAL_JOBS)
    checked = narrowed = 0
    for key, job in (("felix-dashboard.json", REAL_JOBS["felix"]), ("typha-dashboard.json", REAL_JOBS["typha"])):
        before = prometheus_texts(rewrite_datasources(originals[key], "prometheus"), variables=False)
        after = prometheus_texts(scoped[key], variables=False)
        assert len(before) == len(after)
        for old, new in zip(before, after, strict=True):
            old_expr, new_expr = substitute(old, VALUES), substitute(new, VALUES)
            assert not unresolved_variables(new_expr), new
            result = prometheus.query(new_expr, at=now)  # raises if the rewrite broke the syntax
            checked += 1
            jobs = {r["metric"]["job"] for r in result if "job" in r["metric"]}
            assert jobs <= {job}, (new, jobs)
            old_jobs = {r["metric"]["job"] for r in prometheus.query(old_expr, at=now) if "job" in r["metric"]}
            if jobs:
                narrowed += len(old_jobs) > 1
    assert checked >= 14
    # Queries that keep the job label saw several jobs before and only ours after.
    assert narrowed >= 3
