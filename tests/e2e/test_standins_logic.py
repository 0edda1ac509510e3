"""What the Calico stand-ins serve for a given configuration (fast; no cluster)."""

from __future__ import annotations

from tests.e2e.calico_standins import Listener, desired_listeners


def pod(app: str, name: str, node: str, ip: str, *, phase: str = "Running", deleting: bool = False, env=None) -> dict:
    metadata = {"name": name, "labels": {"k8s-app": app}}
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    containers = [{"name": app, "env": [{"name": k, "value": v} for k, v in (env or {}).items()]}]
    return {
        "metadata": metadata,
        "spec": {"nodeName": node, "containers": containers},
        "status": {"phase": phase, "podIP": ip},
    }


NODES = [pod("calico-node", f"calico-node-{n}", f"node-{n}", f"127.10.0.{n}") for n in (1, 2)]


def felix(**spec) -> dict:
    return {"spec": spec}


def test_felix_serves_only_while_metrics_are_enabled_on_its_port():
    assert desired_listeners(felix(prometheusMetricsPort=9095), None, NODES) == set()
    assert desired_listeners(felix(prometheusMetricsEnabled=False), None, NODES) == set()
    assert desired_listeners(felix(prometheusMetricsEnabled=True), None, NODES) == {
        Listener("felix", "calico-node-1", "node-1", "127.10.0.1", 9091),
        Listener("felix", "calico-node-2", "node-2", "127.10.0.2", 9091),
    }
    on_9191 = desired_listeners(felix(prometheusMetricsEnabled=True, prometheusMetricsPort=9191), None, NODES)
    assert {x.port for x in on_9191} == {9191}


def test_pods_that_do_not_run_serve_nothing():
    pods = [
        pod("calico-node", "pending", "node-1", "127.10.0.1", phase="Pending"),
        pod("calico-node", "going", "node-2", "127.10.0.2", deleting=True),
        pod("calico-node", "no-ip", "node-3", ""),
    ]
    assert desired_listeners(felix(prometheusMetricsEnabled=True), None, pods) == set()


def test_a_metrics_host_other_than_the_pod_address_is_not_reachable_there():
    assert (
        desired_listeners(felix(prometheusMetricsEnabled=True, prometheusMetricsHost="10.0.0.1"), None, NODES) == set()
    )
    on_all = desired_listeners(felix(prometheusMetricsEnabled=True, prometheusMetricsHost="0.0.0.0"), None, NODES)
    assert len(on_all) == 2


def test_typha_follows_its_environment_and_kube_controllers_its_configuration():
    typha_off = pod("calico-typha", "typha-a", "node-1", "127.10.0.1")
    typha_on = pod(
        "calico-typha", "typha-b", "node-2", "127.10.0.2",
        env={"TYPHA_PROMETHEUSMETRICSENABLED": "true", "TYPHA_PROMETHEUSMETRICSPORT": "9193"},
    )  # fmt: skip
    controllers = pod("calico-kube-controllers", "kc", "node-1", "127.20.1.5")
    pods = [typha_off, typha_on, controllers]
    assert desired_listeners(None, {"spec": {"prometheusMetricsPort": 0}}, pods) == {
        Listener("typha", "typha-b", "node-2", "127.10.0.2", 9193)
    }
    assert Listener("kube-controllers", "kc", "node-1", "127.20.1.5", 9094) in desired_listeners(
        None, {"spec": {"prometheusMetricsPort": 9094}}, pods
    )
