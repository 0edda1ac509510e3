"""Per-monitor settings reach the API server as prometheus-operator's CRDs keep them (an unknown or
misspelt field would be pruned by the structural schema, so reading them back proves the spelling)."""

from __future__ import annotations

import pytest

from tests.e2e.test_manifest_install import example_config

pytestmark = pytest.mark.e2e

DROP_GO = {"sourceLabels": ["__name__"], "regex": "go_.*", "action": "drop"}


def test_monitor_settings_are_kept_by_the_api_server(make_cluster, make_stack):
    cluster = make_cluster()
    config = example_config("example-kdd")
    config["calico-monitoring:podMonitor"] = {
        **config.get("calico-monitoring:podMonitor", {}),
        "annotations": {"owner": "network-team"},
        "sampleLimit": 20000,
        "metricRelabelings": [DROP_GO],
    }
    config["calico-monitoring:felix"] = {
        "monitor": {
            "interval": "10s",
            "scrapeTimeout": "5s",
            "honorLabels": True,
            "relabelings": [{"targetLabel": "cluster", "replacement": "eu-1"}],
            "labels": {"tier": "node"},
        }
    }
    config["calico-monitoring:alerts"] = {"ruleLabels": {"team": "network"}, "ruleAnnotations": {"owner": "sre"}}
    config["calico-monitoring:dashboards"] = {"annotations": {"example.com/owner": "sre"}}
    stack = make_stack(cluster, config)
    stack.up()

    felix = cluster.get("podmonitor", "felix", "monitoring")
    controllers = cluster.get("podmonitor", "calico-kube-controllers", "monitoring")
    for monitor in (felix, controllers):
        assert monitor["metadata"]["annotations"]["owner"] == "network-team"
        assert monitor["spec"]["sampleLimit"] == 20000
    assert felix["metadata"]["labels"]["tier"] == "node" and "tier" not in controllers["metadata"]["labels"]
    endpoint = felix["spec"]["podMetricsEndpoints"][0]
    assert (endpoint["interval"], endpoint["scrapeTimeout"], endpoint["honorLabels"]) == ("10s", "5s", True)
    assert endpoint["relabelings"][-1] == {"targetLabel": "cluster", "replacement": "eu-1", "action": "replace"} or (
        endpoint["relabelings"][-1] == {"targetLabel": "cluster", "replacement": "eu-1"}
    )
    assert endpoint["metricRelabelings"] == [DROP_GO]
    assert controllers["spec"]["podMetricsEndpoints"][0]["interval"] == "15s"
    assert "honorLabels" not in controllers["spec"]["podMetricsEndpoints"][0]

    rules = cluster.get("prometheusrule", "calico", "monitoring")
    alerts = [r for group in rules["spec"]["groups"] for r in group["rules"] if "alert" in r]
    assert alerts and all(a["labels"]["team"] == "network" and a["annotations"]["owner"] == "sre" for a in alerts)
    dashboard = cluster.get("configmap", "calico-dashboard-felix", "monitoring")
    assert dashboard["metadata"]["annotations"]["example.com/owner"] == "sre"

    stack.preview("--expect-no-changes")
    stack.destroy()
    assert cluster.get("podmonitor", "felix", "monitoring") is None


def test_a_monitor_turned_off_is_not_created_while_its_metrics_are_on(make_cluster, make_stack):
    cluster = make_cluster()
    config = example_config("example-kdd")
    config["calico-monitoring:kubeControllers"] = {"monitor": {"enabled": False}}
    stack = make_stack(cluster, config)
    stack.up()

    assert cluster.calico_resource("kubeControllersConfiguration")["spec"]["prometheusMetricsPort"] == 9094
    assert cluster.get("podmonitor", "calico-kube-controllers", "monitoring") is None
    assert cluster.get("podmonitor", "felix", "monitoring") is not None
    stack.preview("--expect-no-changes")
    stack.destroy()
