"""What the preflight chart is told about the monitors and the rule a Prometheus must select, and the warning
prometheusSelection `warn` gives instead, written out per install type and setting."""

import pytest

from builders.plan import plan_stack
from components.prerequisites import objects_in_the_way_checks, preflight_values, selection_reminder
from configuration import ConfigError, parse_settings

BASE = {"kubernetes:context": "c", "calico-monitoring:datastore": {"type": "kubernetes"}}
POD = ("podMonitorSelector", "podMonitorNamespaceSelector")
SERVICE = ("serviceMonitorSelector", "serviceMonitorNamespaceSelector")
RULE = ("ruleSelector", "ruleNamespaceSelector")
MONITOR_SETTINGS = ("podMonitor.labels", "podMonitor.namespace")
RULE_SETTINGS = ("alerts.labels", "alerts.namespace")
MANAGED = {"app.kubernetes.io/managed-by": "calico-monitoring"}


def plan(**config):
    return plan_stack(parse_settings({**BASE, **{f"calico-monitoring:{k}": v for k, v in config.items()}}))


def check(kind, namespace, name, labels, selectors, settings):
    return {
        "kind": kind,
        "namespace": namespace,
        "name": name,
        "labels": labels,
        "selector": selectors[0],
        "namespaceSelector": selectors[1],
        "labelsSetting": settings[0],
        "namespaceSetting": settings[1],
    }


def test_a_manifest_install_asks_for_its_pod_monitors_and_rule_with_their_labels_and_settings():
    stack = plan(podMonitor={"labels": {"release": "kube-prometheus-stack"}}, typha={"enabled": True})
    release = {"release": "kube-prometheus-stack"}
    values = preflight_values(stack)
    assert values["objects"] == objects_in_the_way_checks(stack)
    assert values["mustBeSelected"] == [
        check("PodMonitor", "monitoring", "felix", {"k8s-app": "calico-node", **release}, POD, MONITOR_SETTINGS),
        check(
            "PodMonitor", "monitoring", "calico-typha", {"k8s-app": "calico-typha", **release}, POD, MONITOR_SETTINGS
        ),
        check(
            "PodMonitor",
            "monitoring",
            "calico-kube-controllers",
            {"k8s-app": "calico-kube-controllers", **release},
            POD,
            MONITOR_SETTINGS,
        ),
        check("PrometheusRule", "monitoring", "calico", {**MANAGED, **release}, RULE, RULE_SETTINGS),
    ]


def test_service_monitors_ask_for_the_service_monitor_selectors_and_the_rule_for_its_own_place_and_labels():
    stack = plan(
        install="operator",
        podMonitor={"namespace": "observability"},
        alerts={"namespace": "rules", "labels": {"role": "alert-rules"}},
    )
    assert preflight_values(stack)["mustBeSelected"] == [
        check("ServiceMonitor", "observability", "felix", MANAGED, SERVICE, MONITOR_SETTINGS),
        check("ServiceMonitor", "observability", "calico-typha", MANAGED, SERVICE, MONITOR_SETTINGS),
        check("ServiceMonitor", "observability", "calico-kube-controllers", MANAGED, SERVICE, MONITOR_SETTINGS),
        check("PrometheusRule", "rules", "calico", {**MANAGED, "role": "alert-rules"}, RULE, RULE_SETTINGS),
    ]


def test_a_monitor_turned_off_is_not_asked_for_and_nothing_at_all_leaves_the_key_out():
    stack = plan(felix={"monitor": {"enabled": False}})
    assert [c["name"] for c in preflight_values(stack)["mustBeSelected"]] == ["calico-kube-controllers", "calico"]
    nothing = plan(
        felix={"monitor": {"enabled": False}},
        kubeControllers={"enabled": False},
        alerts={"enabled": False},
        dashboards={"enabled": False},
    )
    assert preflight_values(nothing) == {"objects": []}


@pytest.mark.parametrize("mode", ["warn", "off"])
def test_warn_and_off_send_the_chart_only_the_objects_in_the_way(mode):
    stack = plan(prometheusSelection=mode)
    assert preflight_values(stack) == {"objects": objects_in_the_way_checks(stack)}


def test_warn_warns_with_what_a_prometheus_must_select_and_the_other_modes_do_not():
    assert selection_reminder(plan(prometheusSelection="warn", felix={"scrape": "service"})) == (
        "calico-monitoring:prometheusSelection is warn, so the preview did not check that a Prometheus of the "
        "cluster selects these objects this stack creates; Prometheus uses one only if a Prometheus' selectors "
        "match its labels and its namespace:\n"
        "- ServiceMonitor monitoring/felix (labels app.kubernetes.io/managed-by=calico-monitoring): "
        "serviceMonitorSelector, serviceMonitorNamespaceSelector\n"
        "- ServiceMonitor monitoring/calico-kube-controllers (labels app.kubernetes.io/managed-by=calico-monitoring): "
        "serviceMonitorSelector, serviceMonitorNamespaceSelector\n"
        "- PrometheusRule monitoring/calico (labels app.kubernetes.io/managed-by=calico-monitoring): "
        "ruleSelector, ruleNamespaceSelector"
    )
    assert selection_reminder(plan()) is None
    assert selection_reminder(plan(prometheusSelection="off")) is None
    everything_off = plan(
        prometheusSelection="warn",
        felix={"monitor": {"enabled": False}},
        kubeControllers={"enabled": False},
        alerts={"enabled": False},
        dashboards={"enabled": False},
    )
    assert selection_reminder(everything_off) is None


def test_the_setting_defaults_to_require_and_refuses_other_words():
    assert plan().prometheus_selection == "require"
    with pytest.raises(ConfigError, match='prometheusSelection: got "maybe"; expected "require", "warn" or "off"'):
        plan(prometheusSelection="maybe")
