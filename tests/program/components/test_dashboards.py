"""Dashboard ConfigMaps: shipped dashboards wired to the stack's jobs, imports re-pointed, size limits."""

import json
from pathlib import Path

import pytest
from pulumi import RunError

from tools.evaluator.mock_engine import Evaluation, evaluate, stack_file_config

CONFIGMAP = "kubernetes:core/v1:ConfigMap"
BASE = {"kubernetes:context": "c", "calico-monitoring:datastore": {"type": "kubernetes"}}


def config_maps(config):
    return [r.plain_inputs for r in evaluate(config).by_type(CONFIGMAP)]


def variable(dashboard, name):
    return next(v for v in dashboard["templating"]["list"] if v["name"] == name)


def datasource_refs(node):
    """Every datasource reference in a dashboard, as (uid or name) strings."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource" and value is not None:
                yield value.get("uid") if isinstance(value, dict) else value
            else:
                yield from datasource_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from datasource_refs(item)


@pytest.mark.parametrize("stack", ["example-kdd", "example-etcd", "example-operator"])
def test_example_stacks_ship_dashboards_for_what_they_scrape(stack):
    maps = config_maps(stack_file_config(stack))
    for config_map in maps:
        assert config_map["metadata"]["namespace"] == "monitoring"
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    expected = {"felix.json": "monitoring/felix", "kube-controllers.json": "monitoring/calico-kube-controllers"}
    if stack == "example-operator":
        expected["typha.json"] = "monitoring/calico-typha"
    # One ConfigMap per dashboard, named after it.
    data = {key: text for m in maps for key, text in m["data"].items()}
    assert {m["metadata"]["name"]: list(m["data"]) for m in maps} == {
        f"calico-dashboard-{key.removesuffix('.json')}": [key] for key in expected
    }
    for key, job in expected.items():
        dashboard = json.loads(data[key])
        assert dashboard["title"].startswith("Calico")
        assert variable(dashboard, "job")["query"] == job
        assert variable(dashboard, "datasource")["current"]["value"] == "prometheus"
        assert set(datasource_refs(dashboard)) <= {"${datasource}", "-- Grafana --", "grafana"}


def test_dashboards_follow_a_custom_monitor_and_datasource():
    config = {
        **BASE,
        "calico-monitoring:podMonitor": {"name": "calico-felix", "namespace": "observability"},
        "calico-monitoring:dashboards": {
            "datasource": "thanos",
            "namespace": "grafana",
            "labels": {"grafana_dashboard": "calico"},
            "folder": "Networking",
        },
    }
    maps = config_maps(config)
    for config_map in maps:
        assert config_map["metadata"]["namespace"] == "grafana"
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "calico"
        assert config_map["metadata"]["annotations"] == {"grafana_folder": "Networking"}
    [felix_map] = [m for m in maps if "felix.json" in m["data"]]
    felix = json.loads(felix_map["data"]["felix.json"])
    assert variable(felix, "job")["query"] == "observability/calico-felix"
    assert variable(felix, "datasource")["current"]["value"] == "thanos"


def test_dashboards_can_be_switched_off():
    assert config_maps({**BASE, "calico-monitoring:dashboards": {"enabled": False}}) == []


def test_a_bad_import_fails_with_the_file_and_reason_before_any_resource(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"title": "x", "panels": [')
    evaluation = Evaluation()
    with pytest.raises(RunError) as error:
        evaluate({**BASE, "calico-monitoring:dashboards": {"import": [str(broken)]}}, into=evaluation)
    assert str(broken) in str(error.value) and "calico-monitoring:dashboards.import" in str(error.value)
    assert evaluation.registrations == []


def test_each_dashboard_has_its_own_configmap_below_the_limit(tmp_path):
    panels = [{"type": "timeseries", "title": f"p{i}", "targets": [{"expr": "up" + " " * 400}]} for i in range(120)]
    paths = []
    for n in range(8):
        path = Path(tmp_path) / f"big-{n}.json"
        path.write_text(json.dumps({"title": f"Big {n}", "uid": f"big-{n}", "panels": panels}))
        paths.append(str(path))
    maps = config_maps({**BASE, "calico-monitoring:dashboards": {"import": paths}})
    assert sorted(m["metadata"]["name"] for m in maps) == sorted(
        [
            "calico-dashboard-felix",
            "calico-dashboard-kube-controllers",
            *(f"calico-dashboard-big-{n}" for n in range(8)),
        ]
    )
    assert all(len(m["data"]) == 1 for m in maps)
    keys = [key for m in maps for key in m["data"]]
    assert sorted(keys) == sorted(["felix.json", "kube-controllers.json", *(f"big-{n}.json" for n in range(8))])
    for config_map in maps:
        size = sum(len(k.encode()) + len(v.encode()) for k, v in config_map["data"].items())
        assert size <= 256 * 1024


def test_two_dashboards_that_would_share_a_configmap_name_are_refused(tmp_path):
    for name in ("My Board.json", "my-board.json"):
        (tmp_path / name).write_text(json.dumps({"title": name, "uid": name.replace(" ", ""), "panels": []}))
    imports = [str(tmp_path / "My Board.json"), str(tmp_path / "my-board.json")]
    with pytest.raises(RunError, match="would share the ConfigMap name 'calico-dashboard-my-board'"):
        evaluate({**BASE, "calico-monitoring:dashboards": {"import": imports}})
