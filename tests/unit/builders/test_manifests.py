"""The patch of calico-node and the Felix ServiceMonitor, written out in full."""

from __future__ import annotations

import pytest

from builders.manifests import calico_node_port_patch, felix_service_scrape
from configuration import CalicoNodeSettings, PodMonitorSettings


@pytest.mark.parametrize(
    ("calico_node", "daemon_set", "namespace", "container", "port_name"),
    [
        # Canal: Calico's container inside a DaemonSet named after the bundle.
        (
            CalicoNodeSettings(daemon_set="canal", container="calico-node", namespace="kube-system"),
            "canal",
            "kube-system",
            "calico-node",
            "http-metrics",
        ),
        # No two of the names alike, so none can stand in for another.
        (
            CalicoNodeSettings(
                daemon_set="calico-node-v3", container="felix-agent", namespace="calico-net", port_name="felix-metrics"
            ),
            "calico-node-v3",
            "calico-net",
            "felix-agent",
            "felix-metrics",
        ),
    ],
    ids=["canal", "all-different"],
)
def test_the_port_goes_on_the_configured_container_of_the_configured_daemonset(
    calico_node, daemon_set, namespace, container, port_name
):
    assert calico_node_port_patch(calico_node, 9099) == {
        "metadata": {"name": daemon_set, "namespace": namespace, "annotations": {"pulumi.com/skipAwait": "true"}},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": container, "ports": [{"containerPort": 9099, "name": port_name, "protocol": "TCP"}]}
                    ]
                }
            }
        },
    }


def test_the_felix_service_monitor_labels_each_series_with_its_node():
    service, monitor = felix_service_scrape(PodMonitorSettings(), CalicoNodeSettings(), 9091)
    assert monitor["spec"]["endpoints"] == [
        {
            "port": "http-metrics",
            "path": "/metrics",
            "interval": "15s",
            "relabelings": [
                {"action": "replace", "targetLabel": "job", "replacement": "monitoring/felix"},
                {"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"},
            ],
        }
    ]
    assert monitor["spec"]["selector"] == {
        "matchLabels": {
            "app.kubernetes.io/managed-by": "calico-monitoring",
            "calico-monitoring/metrics": "calico-monitoring-felix",
        }
    }
    assert service["metadata"]["labels"] == monitor["spec"]["selector"]["matchLabels"]
