"""Pure builders of the Kubernetes objects this program creates or patches."""

from __future__ import annotations

from typing import Any

from components.settings import CalicoNodeSettings, PodMonitorSettings

FIELD_MANAGER = "calico-monitoring"
CALICO_NODE_SELECTOR = {"k8s-app": "calico-node"}


def calico_node_port_patch(calico_node: CalicoNodeSettings, metrics_port: int) -> dict[str, Any]:
    """Server-side-apply patch that declares Felix's metrics port on the calico-node container.

    Only the port is ours: server-side apply records this program as the manager of
    that one list entry, and destroying the patch gives up exactly that entry.
    """
    return {
        "metadata": {
            "name": calico_node.daemon_set,
            "namespace": calico_node.namespace,
            "annotations": {"pulumi.com/patchFieldManager": FIELD_MANAGER},
        },
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": calico_node.container,
                            "ports": [
                                {"containerPort": metrics_port, "name": calico_node.port_name, "protocol": "TCP"}
                            ],
                        }
                    ]
                }
            }
        },
    }


NODE_NAME_RELABELING = {
    "action": "replace",
    "sourceLabels": ["__meta_kubernetes_pod_node_name"],
    "targetLabel": "node",
}


def felix_pod_monitor(pod_monitor: PodMonitorSettings, calico_node: CalicoNodeSettings) -> dict[str, Any]:
    """The PodMonitor of the tutorial, plus the node name as a `node` label on every series."""
    endpoint: dict[str, Any] = {
        "port": calico_node.port_name,
        "path": pod_monitor.path,
        "interval": pod_monitor.interval,
        "relabelings": [NODE_NAME_RELABELING],
    }
    if pod_monitor.scrape_timeout is not None:
        endpoint["scrapeTimeout"] = pod_monitor.scrape_timeout
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {
            "name": pod_monitor.name,
            "namespace": pod_monitor.namespace,
            "labels": {**CALICO_NODE_SELECTOR, **dict(pod_monitor.labels)},
        },
        "spec": {
            "selector": {"matchLabels": dict(CALICO_NODE_SELECTOR)},
            "namespaceSelector": {"matchNames": [calico_node.namespace]},
            "podMetricsEndpoints": [endpoint],
        },
    }
