"""Manifest install, Kubernetes datastore: the seed's steps on a real engine, API server and calicoctl."""

from __future__ import annotations

import copy
import time

import pytest
import yaml

from tests.e2e.conftest import FELIX_BEFORE, ROOT

pytestmark = pytest.mark.e2e


def example_config(stack: str) -> dict:
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {**config, "kubernetes:context": "e2e"}


def without_bookkeeping(document: dict) -> dict:
    """The object as its owner wrote it: no managed fields, versions, generation or status."""
    document = copy.deepcopy(document)
    metadata = document.get("metadata", {})
    for key in ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp"):
        metadata.pop(key, None)
    annotations = metadata.get("annotations", {})
    annotations.pop("deprecated.daemonset.template.generation", None)
    annotations.pop("deployment.kubernetes.io/revision", None)
    document.pop("status", None)
    return document


def container(document: dict, name: str) -> dict:
    return next(c for c in document["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def spec_of(cluster, kind: str) -> dict:
    resource = cluster.calico_resource(kind)
    annotations = resource.get("metadata", {}).get("annotations") or {}
    return {"spec": resource["spec"], "annotations": annotations}


def test_manifest_install_up_preview_change_destroy(make_cluster, make_stack):
    cluster = make_cluster()
    felix_before = spec_of(cluster, "felixConfiguration")
    controllers_before = spec_of(cluster, "kubeControllersConfiguration")
    assert felix_before["spec"]["logSeverityScreen"] == FELIX_BEFORE["logSeverityScreen"]
    node_before = without_bookkeeping(cluster.get("daemonset", "calico-node", "kube-system"))
    controllers_deployment_before = without_bookkeeping(
        cluster.get("deployment", "calico-kube-controllers", "kube-system")
    )
    stack = make_stack(cluster, example_config("example-kdd"))

    stack.preview()
    stack.up()

    felix = cluster.calico_resource("felixConfiguration")["spec"]
    assert felix["prometheusMetricsEnabled"] is True and felix["prometheusMetricsPort"] == 9091
    assert {k: v for k, v in felix.items() if not k.startswith("prometheusMetrics")} == {
        k: v for k, v in felix_before["spec"].items() if not k.startswith("prometheusMetrics")
    }
    controllers = cluster.calico_resource("kubeControllersConfiguration")["spec"]
    assert controllers["prometheusMetricsPort"] == 9094

    node = without_bookkeeping(cluster.get("daemonset", "calico-node", "kube-system"))
    ports = container(node, "calico-node").pop("ports")
    assert [(p["name"], p["containerPort"], p.get("protocol")) for p in ports] == [("http-metrics", 9091, "TCP")]
    # The one other field: the provider's skipAwait annotation, ours and gone again on destroy.
    assert node["metadata"]["annotations"].pop("pulumi.com/skipAwait") == "true"
    assert node == node_before, "the DaemonSet changed beyond the metrics port"

    monitor = cluster.get("podmonitor", "felix", "monitoring")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "http-metrics"
    assert cluster.get("prometheusrule", "calico", "monitoring") is not None
    dashboards = cluster.kubectl("get", "configmap", "-n", "monitoring", "-l", "grafana_dashboard=1", "-o", "name")
    assert dashboards.split(), "no dashboard ConfigMaps"
    # Nothing reached the ambient context.
    assert cluster.get("namespace", "monitoring", context="decoy") is None
    assert "calico-monitoring" not in cluster.kubectl("get", "all", "-A", "-o", "yaml", context="decoy")

    stack.preview("--expect-no-changes")
    stack.up("--expect-no-changes")

    stack.config_set("calico-monitoring:felix.metricsPort", "9191", path=True)
    stack.up()
    felix = cluster.calico_resource("felixConfiguration")["spec"]
    assert felix["prometheusMetricsPort"] == 9191
    node = without_bookkeeping(cluster.get("daemonset", "calico-node", "kube-system"))
    assert [p["containerPort"] for p in container(node, "calico-node")["ports"]] == [9191]

    stack.destroy()
    assert spec_of(cluster, "felixConfiguration") == felix_before
    assert spec_of(cluster, "kubeControllersConfiguration") == controllers_before
    assert without_bookkeeping(cluster.get("daemonset", "calico-node", "kube-system")) == node_before
    assert (
        without_bookkeeping(cluster.get("deployment", "calico-kube-controllers", "kube-system"))
        == controllers_deployment_before
    )
    assert cluster.get("podmonitor", "felix", "monitoring") is None
    assert cluster.get("prometheusrule", "calico", "monitoring") is None
    assert cluster.kubectl("get", "configmap", "-n", "monitoring", "-l", "grafana_dashboard=1", "-o", "name") == ""


def test_up_returns_at_once_and_a_later_up_reports_the_finished_rollout(make_cluster, make_stack):
    cluster = make_cluster()
    stack = make_stack(cluster, example_config("example-kdd"))
    stack.up()
    generation = cluster.get("daemonset", "calico-node", "kube-system")["metadata"]["generation"]
    assert stack.outputs()["calicoNodeRollout"]["generation"] == generation
    # The controller manager records the new generation; the next `up` (nothing to change) reads it back.
    deadline = time.monotonic() + 60
    while cluster.get("daemonset", "calico-node", "kube-system")["status"].get("observedGeneration") != generation:
        assert time.monotonic() < deadline, "kube-controller-manager never observed the patched DaemonSet"
        time.sleep(0.5)
    stack.up("--expect-no-changes")
    rollout = stack.outputs()["calicoNodeRollout"]
    assert rollout["generation"] == generation and rollout["observedGeneration"] == generation
    assert rollout["complete"] is (rollout["updatedNumberScheduled"] == rollout["desiredNumberScheduled"])
    stack.destroy()


def test_canal_names_are_followed_to_the_right_container(make_cluster, make_stack):
    # Canal runs Felix as the `calico-node` container of a DaemonSet named `canal`, beside flannel's.
    cluster = make_cluster(canal=True)
    assert cluster.get("daemonset", "calico-node", "kube-system") is None
    canal_before = without_bookkeeping(cluster.get("daemonset", "canal", "kube-system"))
    config = {
        **example_config("example-kdd"),
        "calico-monitoring:calicoNode": {"daemonSet": "canal", "container": "calico-node"},
    }
    stack = make_stack(cluster, config)
    stack.up()

    canal = without_bookkeeping(cluster.get("daemonset", "canal", "kube-system"))
    ports = container(canal, "calico-node").pop("ports")
    assert [(p["name"], p["containerPort"]) for p in ports] == [("http-metrics", 9091)]
    assert "ports" not in container(canal, "kube-flannel")
    assert canal["metadata"]["annotations"].pop("pulumi.com/skipAwait") == "true"
    assert canal == canal_before, "the DaemonSet changed beyond Felix's port"
    assert cluster.get("daemonset", "calico-node", "kube-system") is None
    monitor = cluster.get("podmonitor", "felix", "monitoring")
    assert monitor["spec"]["selector"] == {"matchLabels": {"k8s-app": "canal"}}
    stack.preview("--expect-no-changes")

    stack.destroy()
    assert without_bookkeeping(cluster.get("daemonset", "canal", "kube-system")) == canal_before
