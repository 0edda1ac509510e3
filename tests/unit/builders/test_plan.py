"""The plan of every scrape mode and install type, written out: what each component gets, the CRDs, the jobs,
the pods a change restarts and the Calico object that must exist first."""

import pytest

from builders.plan import DAEMON_SET, DEPLOYMENT, INSTALLATION, ObjectRef, plan_stack
from configuration import parse_settings

BASE = {"kubernetes:context": "c", "calico-monitoring:datastore": {"type": "kubernetes"}}


def plan(**config):
    return plan_stack(parse_settings({**BASE, **{f"calico-monitoring:{k}": v for k, v in config.items()}}))


def summary(stack_plan):
    """component -> (calicoctl kind, patched object, monitor kind/namespace/name, Service of ours)."""
    rows = {}
    for component in stack_plan.components:
        scrape = component.scrape
        rows[component.component] = (
            component.calicoctl.kind if component.calicoctl else None,
            str(component.patch.object) if component.patch else None,
            f"{scrape.monitor['kind']}/{scrape.monitor['metadata']['namespace']}/{scrape.monitor['metadata']['name']}"
            if scrape
            else None,
            f"{scrape.service['metadata']['namespace']}/{scrape.service['metadata']['name']}"
            if scrape and scrape.service
            else None,
        )
    return rows


def test_manifest_install_pod_scrape_declares_ports_and_uses_pod_monitors():
    stack = plan(typha={"enabled": True})
    assert summary(stack) == {
        "felix": ("felixConfiguration", "DaemonSet kube-system/calico-node", "PodMonitor/monitoring/felix", None),
        "typha": (None, "Deployment kube-system/calico-typha", "PodMonitor/monitoring/calico-typha", None),
        "kube-controllers": (
            "kubeControllersConfiguration",
            "Deployment kube-system/calico-kube-controllers",
            "PodMonitor/monitoring/calico-kube-controllers",
            None,
        ),
    }
    assert stack.crds == ["podmonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com"]
    assert stack.jobs == {
        "felix": "monitoring/felix",
        "typha": "monitoring/calico-typha",
        "kube-controllers": "monitoring/calico-kube-controllers",
    }
    assert [str(r) for r in stack.restarts] == [
        "DaemonSet kube-system/calico-node",
        "Deployment kube-system/calico-typha",
        "Deployment kube-system/calico-kube-controllers",
    ]
    assert stack.required_object == ObjectRef("apps/v1", "DaemonSet", "kube-system", "calico-node")
    assert [p.patch.target for p in stack.components] == [DAEMON_SET, DEPLOYMENT, DEPLOYMENT]


def test_manifest_install_service_scrape_patches_only_typha_and_brings_services():
    stack = plan(felix={"scrape": "service"}, typha={"enabled": True})
    assert summary(stack) == {
        "felix": (
            "felixConfiguration",
            None,
            "ServiceMonitor/monitoring/felix",
            "kube-system/calico-monitoring-felix",
        ),
        "typha": (
            None,
            "Deployment kube-system/calico-typha",
            "ServiceMonitor/monitoring/calico-typha",
            "kube-system/calico-monitoring-calico-typha",
        ),
        "kube-controllers": (
            "kubeControllersConfiguration",
            None,
            "ServiceMonitor/monitoring/calico-kube-controllers",
            "kube-system/calico-monitoring-calico-kube-controllers",
        ),
    }
    assert stack.crds == ["prometheusrules.monitoring.coreos.com", "servicemonitors.monitoring.coreos.com"]
    # Typha's metrics are turned on in its pod template: its pods still roll; calico-node's do not.
    assert [str(r) for r in stack.restarts] == ["Deployment kube-system/calico-typha"]
    assert stack.required_object is None


def test_operator_install_patches_the_installation_and_uses_the_operators_services():
    stack = plan(install="operator")
    assert summary(stack) == {
        "felix": (
            "felixConfiguration",
            None,
            "ServiceMonitor/monitoring/felix",
            "calico-system/calico-monitoring-felix",
        ),
        "typha": (None, "Installation default", "ServiceMonitor/monitoring/calico-typha", None),
        "kube-controllers": (
            "kubeControllersConfiguration",
            None,
            "ServiceMonitor/monitoring/calico-kube-controllers",
            None,
        ),
    }
    typha = stack.component("typha")
    assert typha.patch.target == INSTALLATION
    assert typha.scrape.monitor["spec"]["selector"] == {"matchLabels": {"k8s-app": "calico-typha-metrics"}}
    assert typha.metrics_switch == "Installation default typhaMetricsPort"
    # The operator rolls the Typha Deployment it owns when the Installation changes.
    assert [str(r) for r in stack.restarts] == ["Deployment calico-system/calico-typha"]
    assert stack.required_object == ObjectRef("operator.tigera.io/v1", "Installation", None, "default")


def test_a_monitor_turned_off_needs_no_crd_and_no_job():
    stack = plan(felix={"monitor": {"enabled": False}}, kubeControllers={"monitor": {"enabled": False}})
    assert summary(stack)["felix"] == ("felixConfiguration", "DaemonSet kube-system/calico-node", None, None)
    assert stack.jobs == {}
    assert stack.crds == []  # no monitor, and no rule without a job
    assert stack.rule is None
    assert stack.dashboards == ()


def test_render_mode_needs_no_calico_object():
    stack = plan(renderYamlTo="out", felix={"scrape": "service"})
    assert stack.required_object is None
    assert stack.restarts == []


@pytest.mark.parametrize(
    ("config", "groups"),
    [
        ({}, ["calico-felix.rules", "calico-kube-controllers.rules"]),
        ({"typha": {"enabled": True}}, ["calico-felix.rules", "calico-typha.rules", "calico-kube-controllers.rules"]),
        ({"kubeControllers": {"enabled": False}}, ["calico-felix.rules"]),
    ],
)
def test_the_rule_has_a_group_per_scraped_component(config, groups):
    stack = plan(**config)
    assert [group["name"] for group in stack.rule["spec"]["groups"]] == groups
    assert stack.rule["metadata"] == {
        "name": "calico",
        "namespace": "monitoring",
        "labels": {"app.kubernetes.io/managed-by": "calico-monitoring"},
    }


def test_the_dashboards_follow_the_scraped_components():
    stack = plan(typha={"enabled": True})
    assert [c["metadata"]["name"] for c in stack.dashboards] == [
        "calico-dashboard-felix",
        "calico-dashboard-kube-controllers",
        "calico-dashboard-typha",
    ]
    assert [c["metadata"]["name"] for c in plan(dashboards={"enabled": False}).dashboards] == []
