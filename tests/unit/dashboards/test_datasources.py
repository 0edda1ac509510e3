"""dashboards/datasources.py: every Prometheus reference of a dashboard points at ``${datasource}``."""

from __future__ import annotations

import copy
import json

import pytest

from dashboards.datasources import rewrite_datasources
from dashboards.document import DashboardError, canonical_json
from tests.support.grafana import (
    DATASOURCE_REF,
    datasource_refs,
    datasource_variable,
    iter_panels,
    queries_without_datasource,
    variables,
)
from tests.unit.dashboards.dashboard_fixtures import UID, load_fixture

# References each fixture must keep after the rewrite: Grafana's own sources and non-Prometheus ones.
KEPT_REFS = {
    "grafana-external-export.json": [
        {"type": "grafana", "uid": "-- Grafana --"},
        {"type": "loki", "uid": "${DS_LOKI}"},
        "${DS_LOKI}",
        {"type": "loki", "uid": "${DS_LOKI}"},
        {"type": "datasource", "uid": "-- Mixed --"},
        {"type": "loki", "uid": "loki-uid-1"},
        {"type": "datasource", "uid": "-- Dashboard --"},
        {"type": "datasource", "uid": "-- Dashboard --"},
        {"type": "__expr__", "uid": "__expr__"},
        {"type": "loki", "uid": "${DS_LOKI}"},
    ],
    "legacy-rows.json": ["-- Grafana --"],
    "grafana-ui-export.json": [{"type": "datasource", "uid": "grafana"}],
}


@pytest.mark.parametrize("name", sorted(KEPT_REFS))
def test_rewrite_leaves_only_our_variable_and_what_is_not_prometheus(name):
    rewritten = rewrite_datasources(load_fixture(name), UID)

    kept = [ref for _path, ref in datasource_refs(rewritten) if ref != DATASOURCE_REF]
    assert sorted(map(json.dumps, kept)) == sorted(map(json.dumps, KEPT_REFS[name]))
    assert queries_without_datasource(rewritten) == []
    variable = datasource_variable(rewritten)
    assert variable["query"] == "prometheus"
    assert variable["current"]["value"] == UID
    assert variable["multi"] is False and variable["includeAll"] is False


def test_rewrite_of_external_export_handles_placeholders_variables_and_inputs():
    original = load_fixture("grafana-external-export.json")
    rewritten = rewrite_datasources(original, UID)
    text = canonical_json(rewritten)

    assert "DS_PROMETHEUS" not in text
    assert "P8E80F9AEF21F6940" not in text and "a7Kd9xQ4z" not in text and "prometheus-k8s" not in text
    assert "${prom}" not in text and "$prom" not in text
    # The Prometheus input is gone; Loki's and the constant's are still needed.
    assert [entry["name"] for entry in rewritten["__inputs"]] == ["DS_LOKI", "VAR_CLUSTER"]
    assert rewritten["__requires"] == original["__requires"]
    # The other Prometheus data source variable went with its references; Loki's stays.
    names = [v["name"] for v in rewritten["templating"]["list"]]
    assert names == ["datasource", "logs", "node", "namespace", "pod", "filters", "app", "cluster", "interval"]
    by_name = variables(rewritten)
    for name in ("node", "namespace", "pod", "filters"):
        assert by_name[name]["datasource"] == DATASOURCE_REF, name
    assert by_name["app"]["datasource"] == {"type": "loki", "uid": "${DS_LOKI}"}
    assert "datasource" not in by_name["interval"]
    # Annotations: built-in untouched, Prometheus ones (also the null one with an expr) rewritten, Loki kept.
    annotations = rewritten["annotations"]["list"]
    assert annotations[0] == original["annotations"]["list"][0]
    assert [a["datasource"] for a in annotations[1:]] == [
        DATASOURCE_REF,
        DATASOURCE_REF,
        {"type": "loki", "uid": "${DS_LOKI}"},
    ]
    panels = {p["id"]: p for p in iter_panels(rewritten)}
    assert "datasource" not in panels[13], "a text panel gets no data source"
    assert panels[7]["datasource"] == DATASOURCE_REF, "a row's explicit reference is rewritten too"
    assert [t["datasource"] for t in panels[11]["targets"]] == [
        {"type": "loki", "uid": "loki-uid-1"},
        DATASOURCE_REF,
        DATASOURCE_REF,
    ]
    assert panels[14]["targets"][1]["datasource"] == {"type": "__expr__", "uid": "__expr__"}


def test_rewrite_of_legacy_rows_layout():
    rewritten = rewrite_datasources(load_fixture("legacy-rows.json"), UID)
    panels = [p for row in rewritten["rows"] for p in row["panels"]]
    assert [p["datasource"] for p in panels] == [DATASOURCE_REF] * 3
    assert [t["datasource"] for p in panels for t in p["targets"]] == [DATASOURCE_REF] * 3
    variable = datasource_variable(rewritten)
    assert variable["current"] == {"selected": False, "text": UID, "value": UID}
    assert variable["options"] == []
    assert variables(rewritten)["instance"]["datasource"] == DATASOURCE_REF


def test_rewrite_adds_the_variable_first_when_missing_and_updates_it_when_present():
    added = rewrite_datasources(load_fixture("grafana-external-export.json"), UID)
    assert added["templating"]["list"][0]["name"] == "datasource"

    existing = load_fixture("grafana-ui-export.json")
    updated = rewrite_datasources(existing, UID)
    assert [v["name"] for v in updated["templating"]["list"]] == ["datasource", "job"]
    assert datasource_variable(updated)["current"]["value"] == UID

    no_templating = {"title": "Bare", "panels": [{"type": "stat", "targets": [{"expr": "up", "refId": "A"}]}]}
    rewritten = rewrite_datasources(no_templating, UID)
    assert datasource_variable(rewritten)["current"]["value"] == UID
    assert rewritten["panels"][0]["datasource"] == DATASOURCE_REF


def test_rewrite_does_not_modify_its_argument_and_is_idempotent():
    for name in KEPT_REFS:
        original = load_fixture(name)
        before = copy.deepcopy(original)
        once = rewrite_datasources(original, UID)
        assert original == before, name
        assert rewrite_datasources(once, UID) == once, name
        assert rewrite_datasources(once, "other-uid") == rewrite_datasources(original, "other-uid"), name


def test_rewrite_rejects_bad_arguments_and_conflicting_variables():
    dashboard = load_fixture("grafana-ui-export.json")
    with pytest.raises(DashboardError, match="non-empty"):
        rewrite_datasources(dashboard, " ")
    with pytest.raises(DashboardError, match="expected a JSON object"):
        rewrite_datasources(["not", "a", "dashboard"], UID)

    wrong_type = copy.deepcopy(dashboard)
    wrong_type["templating"]["list"][0]["type"] = "custom"
    with pytest.raises(
        DashboardError, match=r"^dashboard 'Fixture / UI export with variable' \(uid fixture-ui-export\)"
    ):
        rewrite_datasources(wrong_type, UID)

    loki_variable = copy.deepcopy(dashboard)
    loki_variable["templating"]["list"][0]["query"] = "loki"
    with pytest.raises(DashboardError, match="selects 'loki' data sources"):
        rewrite_datasources(loki_variable, UID)
