"""Per-monitor settings (felix.monitor, typha.monitor, kubeControllers.monitor) over podMonitor's, as the
monitors the program registers carry them."""

import pytest

from configuration import ConfigError, parse_settings
from tests.program.components.test_verification import TARGETS, Cluster, target, with_verify
from tests.support.crd_schema import validate_monitoring_object
from tests.support.prometheus_stub import StubPrometheus
from tools.evaluator.mock_engine import evaluate

BASE = {"kubernetes:context": "c", "calico-monitoring:datastore": {"type": "kubernetes"}}
PREFIX = "calico-monitoring:"
DROP_GO = {"sourceLabels": ["__name__"], "regex": "go_.*", "action": "drop"}


def monitors(config):
    """kind/name -> the monitor objects the program registers."""
    evaluation = evaluate({**BASE, **{PREFIX + k: v for k, v in config.items()}})
    found = {}
    for r in evaluation.registrations:
        kind = r.type.split(":")[-1]
        if kind in ("PodMonitor", "ServiceMonitor"):
            found[f"{kind}/{r.plain_inputs['metadata']['name']}"] = r.plain_inputs
    return found


def endpoint(manifest):
    return (manifest["spec"].get("podMetricsEndpoints") or manifest["spec"]["endpoints"])[0]


def test_without_the_new_keys_the_monitors_are_as_before():
    for manifest in monitors({"typha": {"enabled": True}}).values():
        assert "annotations" not in manifest["metadata"] and "sampleLimit" not in manifest["spec"]
        assert {"honorLabels", "metricRelabelings"}.isdisjoint(endpoint(manifest))


def test_podmonitor_is_the_default_of_every_monitor_and_each_component_can_differ():
    config = {
        "podMonitor": {
            "interval": "30s",
            "labels": {"release": "kps"},
            "annotations": {"owner": "network-team"},
            "honorLabels": True,
            "sampleLimit": 20000,
            "metricRelabelings": [DROP_GO],
        },
        "typha": {"enabled": True},
        "felix": {
            "monitor": {
                "interval": "10s",
                "scrapeTimeout": "5s",
                "labels": {"tier": "node"},
                "relabelings": [{"targetLabel": "cluster", "replacement": "eu-1"}],
                "sampleLimit": 50000,
            }
        },
        "kubeControllers": {"monitor": {"honorLabels": False, "metricRelabelings": []}},
    }
    found = monitors(config)
    felix, typha, controllers = (
        found["PodMonitor/felix"],
        found["PodMonitor/calico-typha"],
        found["PodMonitor/calico-kube-controllers"],
    )
    for manifest in (felix, typha, controllers):
        validate_monitoring_object(manifest)
        assert manifest["metadata"]["annotations"] == {"owner": "network-team"}
    assert felix["metadata"]["labels"]["release"] == "kps" and felix["metadata"]["labels"]["tier"] == "node"
    assert "tier" not in typha["metadata"]["labels"]
    assert (felix["spec"]["sampleLimit"], typha["spec"]["sampleLimit"]) == (50000, 20000)
    assert endpoint(felix)["interval"] == "10s" and endpoint(felix)["scrapeTimeout"] == "5s"
    assert endpoint(typha)["interval"] == "30s" and "scrapeTimeout" not in endpoint(typha)
    # The program's node label comes first, the stack's relabelings after it.
    assert endpoint(felix)["relabelings"][-1] == {"targetLabel": "cluster", "replacement": "eu-1"}
    assert endpoint(felix)["relabelings"][0]["targetLabel"] == "node"
    assert endpoint(typha)["honorLabels"] is True and endpoint(typha)["metricRelabelings"] == [DROP_GO]
    assert "honorLabels" not in endpoint(controllers) and "metricRelabelings" not in endpoint(controllers)


def test_the_stack_metric_relabelings_come_before_the_keep_filter():
    found = monitors(
        {"podMonitor": {"keepOnlyUsedMetrics": True}, "felix": {"monitor": {"metricRelabelings": [DROP_GO]}}}
    )
    relabelings = endpoint(found["PodMonitor/felix"])["metricRelabelings"]
    assert relabelings[0] == DROP_GO and relabelings[-1]["action"] == "keep"


def test_service_monitors_get_them_too():
    found = monitors({"install": "operator", "typha": {"monitor": {"sampleLimit": 100, "annotations": {"a": "b"}}}})
    typha = found["ServiceMonitor/calico-typha"]
    validate_monitoring_object(typha)
    assert typha["spec"]["sampleLimit"] == 100 and typha["metadata"]["annotations"] == {"a": "b"}
    assert "sampleLimit" not in found["ServiceMonitor/felix"]["spec"]


def problems(config):
    with pytest.raises(ConfigError) as error:
        parse_settings({**BASE, **{PREFIX + k: v for k, v in config.items()}})
    return [line.removeprefix("  - ") for line in str(error.value).splitlines()[1:]]


def test_bad_monitor_settings_are_named_at_their_path_all_at_once():
    assert problems(
        {
            "felix": {
                "monitor": {
                    "scrapeTimeout": "30s",
                    "intervl": "1m",
                    "relabelings": [{"action": "explode", "targetLabel": "x"}, 5],
                    "labels": {"x": "a b"},
                    "sampleLimit": -1,
                }
            },
            "podMonitor": {"honorLabels": "yes"},
        }
    ) == [  # in the order the stack file lists them
        'calico-monitoring:felix.monitor.scrapeTimeout: got "30s"; expected at most the scrape interval (15s)',
        "calico-monitoring:felix.monitor.intervl: unknown setting (did you mean interval?); accepted settings "
        "are annotations, enabled, honorLabels, interval, labels, metricRelabelings, relabelings, sampleLimit, "
        "scrapeTimeout",
        'calico-monitoring:felix.monitor.relabelings[0].action: got "explode"; expected one of replace, keep, drop, '
        "hashmod, labelmap, labeldrop, labelkeep, lowercase, uppercase, keepequal, dropequal",
        "calico-monitoring:felix.monitor.relabelings[1]: got 5; expected a relabel config: an object with any of "
        "sourceLabels, separator, targetLabel, regex, modulus, replacement, action",
        'calico-monitoring:felix.monitor.labels.x: got "a b"; expected a label value: at most 63 letters, digits, '
        "'-', '_' or '.'",
        "calico-monitoring:felix.monitor.sampleLimit: got -1; expected a whole number from 0 (0: no limit)",
        'calico-monitoring:podMonitor.honorLabels: got "yes"; expected true or false',
    ]


def test_a_monitor_interval_below_the_inherited_timeout_is_refused():
    assert (
        problems({"podMonitor": {"interval": "1m", "scrapeTimeout": "30s"}, "typha": {"monitor": {"interval": "10s"}}})[
            0
        ]
        == 'calico-monitoring:typha.monitor.interval: got "10s"; expected at least the scrape timeout (30s)'
    )


def registered(config, **kwargs):
    evaluation = evaluate({**BASE, **{PREFIX + k: v for k, v in config.items()}}, **kwargs)
    return evaluation, {f"{r.type.split(':')[-1]}/{r.name}" for r in evaluation.registrations}


def test_a_monitor_turned_off_leaves_the_metrics_on_and_the_component_out():
    settings = parse_settings({**BASE, PREFIX + "felix": {"monitor": {"enabled": False}}})
    assert settings.jobs == {"kube-controllers": "monitoring/calico-kube-controllers"}
    _, found = registered({"felix": {"monitor": {"enabled": False}}})
    assert "CalicoctlPatch/calico-monitoring-felix-calicoctl-patch" in found
    assert "DaemonSetPatch/calico-monitoring-felix-calico-node-port-daemonset-patch" in found  # the port stays
    assert not any(name.startswith(("PodMonitor/calico-monitoring-felix", "FelixPodMonitor/")) for name in found)
    assert "ConfigMap/calico-monitoring-dashboards-felix" not in found
    assert "PodMonitor/calico-monitoring-kube-controllers-podmonitor" in found
    # The operator's Typha: its metrics still turned on through the Installation, no ServiceMonitor of ours.
    _, found = registered({"install": "operator", "typha": {"monitor": {"enabled": False}}})
    assert "InstallationPatch/calico-monitoring-typha-installation-patch" in found
    assert not any(name.startswith("ServiceMonitor/calico-monitoring-typha") for name in found)
    assert "ConfigMap/calico-monitoring-dashboards-typha" not in found


def test_with_every_monitor_off_no_rule_no_dashboard_and_no_headless_service():
    config = {
        "felix": {"scrape": "service", "monitor": {"enabled": False}},
        "kubeControllers": {"monitor": {"enabled": False}},
    }
    _, found = registered(config)
    assert not {
        name for name in found if name.split("/")[0] in ("PrometheusRule", "ConfigMap", "Service", "ServiceMonitor")
    }
    assert "CalicoctlPatch/calico-monitoring-kube-controllers-calicoctl-patch" in found


def test_verification_waits_only_for_the_monitors_of_this_stack():
    server = StubPrometheus()
    try:
        server.answer(TARGETS, {"activeTargets": [target("monitoring/calico-kube-controllers")]})
        config = {**with_verify(server), PREFIX + "felix": {"monitor": {"enabled": False}}}
        evaluation = evaluate(config, outputs=Cluster(scheduled=3))
        assert evaluation.stack_outputs["scrapeTargets"] == {
            "monitoring/calico-kube-controllers": {"up": 1, "expected": 1}
        }
    finally:
        server.close()
