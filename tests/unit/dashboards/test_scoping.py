"""dashboards/scoping.py: the job a dashboard reads (its scoping of imports and its cluster
selector are tested in tests/program/dashboards and tests/unit/dashboards/test_configmaps.py)."""

from __future__ import annotations

import copy

import pytest

from dashboards.datasources import rewrite_datasources
from dashboards.document import DashboardError
from dashboards.loading import shipped_dashboards
from dashboards.scoping import set_job
from tests.support.grafana import variables
from tests.unit.dashboards.dashboard_fixtures import load_fixture


def test_set_job_sets_query_current_and_options_on_a_copy():
    dashboard = load_fixture("grafana-ui-export.json")
    before = copy.deepcopy(dashboard)
    result = set_job(dashboard, "observability/felix-metrics")
    assert dashboard == before
    job = variables(result)["job"]
    assert job["query"] == "observability/felix-metrics"
    assert job["current"]["value"] == job["current"]["text"] == "observability/felix-metrics"
    assert job["options"] == [
        {"selected": True, "text": "observability/felix-metrics", "value": "observability/felix-metrics"}
    ]
    assert job["hide"] == 2 and job["type"] == "constant"


def test_set_job_errors():
    with pytest.raises(DashboardError, match=r"^dashboard 'Fixture / legacy rows': has no 'job' template variable"):
        set_job(load_fixture("legacy-rows.json"), "monitoring/felix")
    not_constant = load_fixture("grafana-ui-export.json")
    not_constant["templating"]["list"][1]["type"] = "custom"
    with pytest.raises(DashboardError, match="is of type 'custom', expected 'constant'"):
        set_job(not_constant, "monitoring/felix")
    with pytest.raises(DashboardError, match="non-empty"):
        set_job(load_fixture("grafana-ui-export.json"), "")


def test_copy_false_changes_the_given_dashboard_and_gives_the_same_result():
    original = shipped_dashboards()["felix.json"]
    expected = rewrite_datasources(set_job(original, "a/b"), "uid-1")
    assert original == shipped_dashboards()["felix.json"]  # the default leaves the argument alone
    in_place = set_job(original, "a/b", copy=False)
    assert in_place is original
    assert rewrite_datasources(in_place, "uid-1", copy=False) is original
    assert original == expected
