"""How a Calico pod's container would start its process, read from the pod: binary, arguments, environment.

The environment is the container's own (plain values, ConfigMap keys, the pod's fields), with what the
container image adds and what running outside a container needs: a kubeconfig instead of the service
account, files under a folder of the pod's instead of the image's paths, and logs to the screen only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.real_calico_env import TYPHA_PORT, felix_outside_a_pod, kube_controllers_argv, outside_a_pod


@dataclass(frozen=True)
class Workload:
    component: str  # felix, typha or kube-controllers
    pod: str
    node: str
    address: str
    services: tuple[tuple[str, tuple[str, ...]], ...]  # (name, argv): each kept running; `component` is the main
    env: dict[str, str]
    folder: Path
    init: tuple[tuple[str, ...], ...] = ()  # run once, each to success, before the services
    not_metrics_ports: frozenset[int] = frozenset()

    @property
    def log_name(self) -> str:
        return f"{self.component}-{self.pod}"


def field_value(pod: dict[str, Any], path: str) -> str | None:
    values = {
        "spec.nodeName": pod["spec"].get("nodeName"),
        "status.podIP": pod.get("status", {}).get("podIP"),
        "status.hostIP": pod.get("status", {}).get("hostIP"),
        "metadata.name": pod["metadata"]["name"],
        "metadata.namespace": pod["metadata"].get("namespace"),
    }
    return values.get(path)


def container_env(pod: dict[str, Any], container: str, config_maps: dict[str, dict[str, str]]) -> dict[str, str]:
    """The environment the kubelet would give ``container``: values, ConfigMap keys and pod fields."""
    env: dict[str, str] = {}
    spec = next((c for c in pod["spec"].get("containers", []) if c["name"] == container), None)
    for item in (spec or {}).get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        source = item.get("valueFrom", {})
        value = None
        if "configMapKeyRef" in source:
            reference = source["configMapKeyRef"]
            value = config_maps.get(reference["name"], {}).get(reference["key"])
        elif "fieldRef" in source:
            value = field_value(pod, source["fieldRef"]["fieldPath"])
        if value is not None:
            env[item["name"]] = value
    return env


def process_of(
    pod: dict[str, Any], config_maps: dict[str, dict[str, str]], binaries: Path, kubeconfig: Path, folder: Path
) -> Workload | None:
    """The process ``pod``'s Calico container runs, or None for a pod that is none of Calico's three."""
    app = pod["metadata"].get("labels", {}).get("k8s-app")
    where = {
        "pod": pod["metadata"]["name"],
        "node": pod["spec"].get("nodeName", ""),
        "address": pod["status"]["podIP"],
        "folder": folder,
    }
    base = outside_a_pod(kubeconfig)
    folder.mkdir(parents=True, exist_ok=True)
    if app == "calico-node":
        env = container_env(pod, "calico-node", config_maps)
        felix = felix_outside_a_pod(env.get("NODENAME", where["node"]), kubeconfig, folder / "status")
        node = str(binaries / "calico-node")
        # What calico-node's container runs: its start-up (the Node's addresses, the default IP pool, the
        # node name file), then under runit Felix and the tunnel-address allocator. BIRD and confd (BGP),
        # the address monitor and the CNI token watcher do not run here.
        return Workload(
            "felix",
            init=((node, "-startup"),),
            services=(("felix", (node, "-felix")), ("allocate-tunnel-addrs", (node, "-allocate-tunnel-addrs"))),
            env={**base, **env, **felix},
            **where,
        )
    if app == "calico-typha":
        env = container_env(pod, "calico-typha", config_maps)
        return Workload(
            "typha",
            services=(("typha", (str(binaries / "calico-typha"),)),),
            env={**base, **env},
            not_metrics_ports=frozenset({TYPHA_PORT}),
            **where,
        )
    if app == "calico-kube-controllers":
        env = container_env(pod, "calico-kube-controllers", config_maps)
        argv = tuple(kube_controllers_argv(binaries / "calico-kube-controllers", folder / "status.json"))
        return Workload("kube-controllers", services=(("kube-controllers", argv),), env={**base, **env}, **where)
    return None
