"""The shipped dashboards' structure: identity, variables, data source references, layout, canonical text."""

from __future__ import annotations

import copy
import json

import pytest

from alerts import DASHBOARD_UIDS, DEFAULT_JOBS
from dashboards.datasources import rewrite_datasources
from dashboards.document import canonical_json
from dashboards.loading import DASHBOARDS_DIR, SHIPPED_DASHBOARDS, shipped_dashboards
from tests.paths import ROOT
from tests.support.grafana import DATASOURCE_REF, foreign_refs, iter_panels, variables
from tests.unit.dashboards.dashboard_fixtures import UID

TITLES = {"felix": "Calico / Felix", "typha": "Calico / Typha", "kube-controllers": "Calico / Kube Controllers"}
# Uid and job default as the alerts' links and the stack's default jobs have them.
EXPECTED = {
    SHIPPED_DASHBOARDS[component]: (DASHBOARD_UIDS[component], title, DEFAULT_JOBS[component])
    for component, title in TITLES.items()
}


def test_shipped_dashboards_load_from_the_module_location_not_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dashboards = shipped_dashboards()
    assert list(dashboards) == list(EXPECTED)
    assert ROOT / "dashboards" == DASHBOARDS_DIR


@pytest.mark.parametrize("name", list(EXPECTED))
def test_shipped_dashboard_identity_and_variables(name):
    dashboard = shipped_dashboards()[name]
    uid, title, job = EXPECTED[name]
    assert (dashboard["uid"], dashboard["title"], dashboard["tags"]) == (uid, title, ["calico"])
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard["id"] is None
    by_name = variables(dashboard)
    assert by_name["datasource"]["type"] == "datasource"
    assert by_name["datasource"]["query"] == "prometheus"
    assert by_name["job"]["type"] == "constant"
    assert by_name["job"]["hide"] == 2
    assert by_name["job"]["query"] == by_name["job"]["current"]["value"] == job


@pytest.mark.parametrize("name", list(EXPECTED))
def test_shipped_dashboard_panels_and_targets_use_the_datasource_variable(name):
    dashboard = shipped_dashboards()[name]
    assert foreign_refs(dashboard) == []
    for panel in iter_panels(dashboard):
        assert panel.get("datasource") == DATASOURCE_REF, panel["title"]
        for target in panel.get("targets", []):
            assert target["datasource"] == DATASOURCE_REF, panel["title"]
    for variable in variables(dashboard).values():
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE_REF
    assert rewrite_datasources(dashboard, UID) == _with_current_datasource(dashboard, UID)


def _with_current_datasource(dashboard: dict, uid: str) -> dict:
    expected = copy.deepcopy(dashboard)
    variable = variables(expected)["datasource"]
    variable["current"] = {"selected": False, "text": uid, "value": uid}
    return expected


@pytest.mark.parametrize("name", list(EXPECTED))
def test_shipped_dashboard_layout(name):
    dashboard = shipped_dashboards()[name]
    panels = list(iter_panels(dashboard))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["title"], panel
        if panel["type"] != "row":
            assert panel.get("description"), f"{panel['title']}: every panel explains itself"
            assert panel["targets"], panel["title"]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_shipped_dashboard_files_are_canonical(name):
    text = (DASHBOARDS_DIR / name).read_text(encoding="utf-8")
    assert text == canonical_json(json.loads(text)), "store dashboards as canonical_json() writes them"
