"""The preflight chart (components/preflight-chart) rendered by Helm's own template engine, at the release
pulumi-kubernetes' Chart v4 renders with, its `lookup` answered from the objects of a made-up cluster
(tests/e2e/chart_render, built by build-binaries.sh): whether a Prometheus selects each monitor and the rule,
decided as prometheus-operator decides it, for many clusters in milliseconds each. The values are the ones
the program sends (components.prerequisites.preflight_values); test_prometheus_selection.py runs the same
chart in `pulumi preview` against a real API server."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from builders.plan import plan_stack
from components.prerequisites import PREFLIGHT_CHART, preflight_values
from configuration import parse_settings
from tests.e2e.cluster import cache_root, versions
from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e

BASE = {"kubernetes:context": "c", "calico-monitoring:datastore": {"type": "kubernetes"}}
RELEASE = {"release": "kube-prometheus-stack"}
LABELLED = {"podMonitor": {"labels": RELEASE}}
KUBE_PROMETHEUS_STACK = {"matchLabels": RELEASE}
HEADER = "no Prometheus in the cluster selects these objects this stack creates, so Prometheus would never use them:"
FOOTER = (
    "If the Prometheus that should use them is not in this cluster: "
    "`pulumi config set calico-monitoring:prometheusSelection off`."
)


def chart_render() -> Path:
    key = hashlib.sha256((ROOT / "tests/e2e/chart_render/main.go").read_bytes()).hexdigest()[:12]
    path = cache_root() / f"chart-render-v{versions()['PULUMI_KUBERNETES_VERSION']}-{key}" / "bin" / "chart-render"
    if not path.exists():
        pytest.fail(f"e2e binaries missing (run `make e2e-bin`): {path}")
    return path


def render(config: dict[str, Any], cluster: list[dict[str, Any]]) -> dict[str, Any]:
    """The chart as the program with ``config`` renders it against ``cluster``: {"rendered": …} or {"error": …}."""
    settings = parse_settings({**BASE, **{f"calico-monitoring:{k}": v for k, v in config.items()}})
    document = {"values": preflight_values(plan_stack(settings)), "objects": cluster}
    result = subprocess.run(
        [str(chart_render()), str(PREFLIGHT_CHART)], input=json.dumps(document), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def failure(config: dict[str, Any], cluster: list[dict[str, Any]]) -> str:
    """The message the chart fails with (Helm's "execution error at (template:line:col): " cut off)."""
    result = render(config, cluster)
    assert "error" in result, f"the chart passed: {result}"
    return result["error"].split("): ", 1)[1]


def passes(config: dict[str, Any], cluster: list[dict[str, Any]]) -> bool:
    result = render(config, cluster)
    assert "error" not in result, result["error"]
    return result["rendered"] == {}  # the chart never renders an object


def prometheus_crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "prometheuses.monitoring.coreos.com"},
    }


def namespace(name: str, **labels: str) -> dict[str, Any]:
    # The API server gives every namespace its kubernetes.io/metadata.name label.
    all_labels = {"kubernetes.io/metadata.name": name, **labels}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": all_labels}}


def prometheus(name: str = "kube-prometheus-stack-prometheus", where: str = "monitoring", **spec: Any) -> dict:
    """A Prometheus as kube-prometheus-stack makes one (each selector `release: <its release>`, namespace
    selectors `{}`); ``spec`` replaces fields, None leaves one out (a null selector)."""
    fields = {
        "podMonitorSelector": KUBE_PROMETHEUS_STACK,
        "podMonitorNamespaceSelector": {},
        "serviceMonitorSelector": KUBE_PROMETHEUS_STACK,
        "serviceMonitorNamespaceSelector": {},
        "ruleSelector": KUBE_PROMETHEUS_STACK,
        "ruleNamespaceSelector": {},
        **spec,
    }
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Prometheus",
        "metadata": {"name": name, "namespace": where},
        "spec": {key: value for key, value in fields.items() if value is not None},
    }


def cluster(*prometheuses: dict[str, Any], monitoring: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return [prometheus_crd(), namespace("monitoring", **(monitoring or {})), *prometheuses]


def test_a_kube_prometheus_stack_prometheus_fails_a_stack_without_its_label_naming_each_object_and_the_fix():
    assert failure({}, cluster(prometheus())) == "\n".join(
        [
            HEADER,
            "- PodMonitor monitoring/felix (labels k8s-app=calico-node):",
            "  Prometheus monitoring/kube-prometheus-stack-prometheus selects PodMonitors labelled "
            "release=kube-prometheus-stack in every namespace; fix: "
            "`pulumi config set --path calico-monitoring:podMonitor.labels.release kube-prometheus-stack`",
            "- PodMonitor monitoring/calico-kube-controllers (labels k8s-app=calico-kube-controllers):",
            "  Prometheus monitoring/kube-prometheus-stack-prometheus selects PodMonitors labelled "
            "release=kube-prometheus-stack in every namespace; fix: "
            "`pulumi config set --path calico-monitoring:podMonitor.labels.release kube-prometheus-stack`",
            "- PrometheusRule monitoring/calico (labels app.kubernetes.io/managed-by=calico-monitoring):",
            "  Prometheus monitoring/kube-prometheus-stack-prometheus selects PrometheusRules labelled "
            "release=kube-prometheus-stack in every namespace; fix: "
            "`pulumi config set --path calico-monitoring:alerts.labels.release kube-prometheus-stack`",
            FOOTER,
        ]
    )
    # The README's troubleshooting shows this message as the CLI prints it.
    readme = (ROOT / "README.md").read_text()
    assert [line for line in failure({}, cluster(prometheus())).splitlines() if line not in readme] == []
    # The fix it names: podMonitor.labels, which the rule's labels follow.
    assert passes(LABELLED, cluster(prometheus()))
    assert passes({"felix": {"scrape": "service"}, "typha": {"enabled": True}, **LABELLED}, cluster(prometheus()))
    assert passes({"install": "operator", **LABELLED}, cluster(prometheus()))


def test_the_rule_and_the_monitors_are_judged_each_by_their_own_selectors():
    rule_elsewhere = {**LABELLED, "alerts": {"labels": {"role": "alert-rules"}}}
    assert failure(rule_elsewhere, cluster(prometheus())) == "\n".join(
        [
            HEADER,
            "- PrometheusRule monitoring/calico "
            "(labels app.kubernetes.io/managed-by=calico-monitoring,role=alert-rules):",
            "  Prometheus monitoring/kube-prometheus-stack-prometheus selects PrometheusRules labelled "
            "release=kube-prometheus-stack in every namespace; fix: "
            "`pulumi config set --path calico-monitoring:alerts.labels.release kube-prometheus-stack`",
            FOOTER,
        ]
    )
    service_monitors_only = prometheus(podMonitorSelector={})
    assert passes({"felix": {"scrape": "service"}, **LABELLED}, cluster(service_monitors_only))
    pod_monitors_unselected = failure(LABELLED, cluster(prometheus(podMonitorSelector=None)))
    assert pod_monitors_unselected.splitlines()[1:3] == [
        "- PodMonitor monitoring/felix (labels k8s-app=calico-node,release=kube-prometheus-stack):",
        "  Prometheus monitoring/kube-prometheus-stack-prometheus selects no PodMonitors (podMonitorSelector unset) "
        "in every namespace; fix: set its podMonitorSelector",
    ]
    assert "PrometheusRule" not in pod_monitors_unselected
    assert "ServiceMonitor monitoring/felix" in failure(
        {"felix": {"scrape": "service"}, **LABELLED}, cluster(prometheus(serviceMonitorSelector=None))
    )


def test_an_empty_selector_selects_everything_and_a_null_one_nothing():
    everything = prometheus(podMonitorSelector={}, ruleSelector={"matchLabels": {}, "matchExpressions": []})
    assert passes({}, cluster(everything))
    assert "selects no PrometheusRules (ruleSelector unset)" in failure(
        LABELLED, cluster(prometheus(ruleSelector=None))
    )


def test_a_namespace_selector_that_leaves_out_the_monitors_namespace_fails_on_its_own_and_labels_fix_it():
    watched = {"matchLabels": {"monitoring": "calico"}}
    picky = prometheus(podMonitorNamespaceSelector=watched, ruleNamespaceSelector=watched)
    message = failure(LABELLED, cluster(picky))
    assert message.splitlines()[1:3] == [
        "- PodMonitor monitoring/felix (labels k8s-app=calico-node,release=kube-prometheus-stack):",
        "  Prometheus monitoring/kube-prometheus-stack-prometheus selects PodMonitors labelled "
        "release=kube-prometheus-stack in namespaces labelled monitoring=calico; fix: a namespace labelled "
        "monitoring=calico in calico-monitoring:podMonitor.namespace (or those labels on namespace monitoring)",
    ]
    assert "fix: a namespace labelled monitoring=calico in calico-monitoring:alerts.namespace" in message
    assert passes(LABELLED, cluster(picky, monitoring={"monitoring": "calico"}))
    # The name label every namespace has: a Prometheus may select namespaces by name.
    by_name = {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["monitoring"]}]}
    assert passes(LABELLED, cluster(prometheus(podMonitorNamespaceSelector=by_name, ruleNamespaceSelector=by_name)))


def test_a_null_namespace_selector_means_the_prometheus_own_namespace_only():
    elsewhere = prometheus(where="observability", podMonitorNamespaceSelector=None, ruleNamespaceSelector=None)
    message = failure(LABELLED, cluster(elsewhere, namespace("observability")))
    assert message.splitlines()[1:3] == [
        "- PodMonitor monitoring/felix (labels k8s-app=calico-node,release=kube-prometheus-stack):",
        "  Prometheus observability/kube-prometheus-stack-prometheus selects PodMonitors labelled "
        "release=kube-prometheus-stack in its own namespace observability; fix: "
        "`pulumi config set --path calico-monitoring:podMonitor.namespace observability`",
    ]
    assert "`pulumi config set --path calico-monitoring:alerts.namespace observability`" in message
    moved = {"podMonitor": {"labels": RELEASE, "namespace": "observability"}}
    assert passes(moved, cluster(elsewhere, namespace("observability")))
    beside = prometheus(podMonitorNamespaceSelector=None, ruleNamespaceSelector=None)
    assert passes(LABELLED, cluster(beside))


@pytest.mark.parametrize(
    ("expression", "selected"),
    [
        ({"key": "k8s-app", "operator": "In", "values": ["calico-node", "calico-kube-controllers"]}, True),
        ({"key": "k8s-app", "operator": "In", "values": ["calico-typha"]}, False),
        ({"key": "k8s-app", "operator": "NotIn", "values": ["calico-typha"]}, True),
        ({"key": "k8s-app", "operator": "NotIn", "values": ["calico-node", "calico-kube-controllers"]}, False),
        ({"key": "team", "operator": "NotIn", "values": ["payments"]}, True),
        ({"key": "k8s-app", "operator": "Exists"}, True),
        ({"key": "team", "operator": "Exists"}, False),
        ({"key": "team", "operator": "DoesNotExist"}, True),
        ({"key": "k8s-app", "operator": "DoesNotExist"}, False),
        ({"key": "k8s-app", "operator": "Gt", "values": ["1"]}, False),
    ],
)
def test_match_expressions_hold_as_kubernetes_reads_them(expression, selected):
    selector = {"matchExpressions": [expression]}
    prometheuses = cluster(prometheus(podMonitorSelector=selector, ruleSelector={}))
    if selected:
        assert passes({}, prometheuses)
    else:
        assert "- PodMonitor monitoring/felix" in failure({}, prometheuses)


def test_every_term_of_a_selector_must_hold_and_the_fix_names_what_labels_cannot_reach():
    selector = {
        "matchLabels": {"release": "kube-prometheus-stack", "app.kubernetes.io/part-of": "monitoring"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["platform"]}],
    }
    message = failure(LABELLED, cluster(prometheus(podMonitorSelector=selector, ruleSelector={})))
    assert message.splitlines()[2] == (
        "  Prometheus monitoring/kube-prometheus-stack-prometheus selects PodMonitors labelled "
        "app.kubernetes.io/part-of=monitoring,release=kube-prometheus-stack,tier in (platform) in every namespace; "
        "fix: `pulumi config set --path "
        "'calico-monitoring:podMonitor.labels[\"app.kubernetes.io/part-of\"]' monitoring`"
        " and labels matching app.kubernetes.io/part-of=monitoring,release=kube-prometheus-stack,tier in (platform) "
        "in calico-monitoring:podMonitor.labels"
    )
    all_of_them = {"podMonitor": {"labels": {**RELEASE, "app.kubernetes.io/part-of": "monitoring", "tier": "platform"}}}
    assert passes(all_of_them, cluster(prometheus(podMonitorSelector=selector, ruleSelector={})))


def test_one_prometheus_that_selects_is_enough_and_when_none_does_each_is_named():
    other = prometheus(name="team-a", where="team-a", podMonitorSelector={"matchLabels": {"team": "a"}})
    assert passes(LABELLED, cluster(other, prometheus(), namespace("team-a")))
    message = failure({}, cluster(other, prometheus(), namespace("team-a")))
    assert message.splitlines()[1:4] == [
        "- PodMonitor monitoring/felix (labels k8s-app=calico-node):",
        "  Prometheus monitoring/kube-prometheus-stack-prometheus selects PodMonitors labelled "
        "release=kube-prometheus-stack in every namespace; fix: "
        "`pulumi config set --path calico-monitoring:podMonitor.labels.release kube-prometheus-stack`",
        "  Prometheus team-a/team-a selects PodMonitors labelled team=a in every namespace; fix: "
        "`pulumi config set --path calico-monitoring:podMonitor.labels.team a`",
    ]


def test_nothing_to_check_without_prometheus_objects_or_their_crd_or_with_the_check_off_or_warn():
    assert passes({}, cluster())
    assert passes({}, [namespace("monitoring"), prometheus()])  # no CRD: the objects cannot be there
    for mode in ("off", "warn"):
        assert passes({"prometheusSelection": mode}, cluster(prometheus()))


def test_a_namespace_not_created_yet_is_matched_by_its_name_label():
    by_name = {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    prometheuses = [prometheus_crd(), prometheus(podMonitorNamespaceSelector=by_name, ruleNamespaceSelector=by_name)]
    assert passes(LABELLED, prometheuses)


def test_the_objects_in_the_way_check_still_runs_beside_it():
    hand_made = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": "felix", "namespace": "monitoring", "managedFields": [{"manager": "kubectl"}]},
    }
    assert failure(LABELLED, [*cluster(prometheus()), hand_made]).startswith(
        "PodMonitor monitoring/felix is in the way: it exists, was not created by Pulumi (written by kubectl)"
    )
