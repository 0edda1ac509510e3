"""CalicoMonitoring: everything one cluster's stack creates, in order."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.calico_node_port import CalicoNodeMetricsPort, CalicoNodeMetricsPortArgs
from components.felix_metrics import FelixMetrics, FelixMetricsArgs
from components.pod_monitor import FelixPodMonitor, FelixPodMonitorArgs
from components.settings import KubernetesProviderSettings, Settings


def kubernetes_provider_args(settings: KubernetesProviderSettings) -> dict:
    args: dict = {}
    if settings.kubeconfig_path is not None:
        args["kubeconfig"] = settings.kubeconfig_path
    elif settings.kubeconfig_content is not None:
        args["kubeconfig"] = pulumi.Output.secret(settings.kubeconfig_content.reveal())
    if settings.context is not None:
        args["context"] = settings.context
    return args


class CalicoMonitoring(pulumi.ComponentResource):
    """Felix metrics on, then the port declared on calico-node, then the PodMonitor."""

    def __init__(self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("calico-monitoring:index:CalicoMonitoring", name, None, opts)
        self.provider = k8s.Provider(
            f"{name}-kubernetes",
            **kubernetes_provider_args(settings.kubernetes),
            opts=pulumi.ResourceOptions(parent=self),
        )
        kubernetes = pulumi.ResourceOptions(parent=self, providers=[self.provider])

        self.felix = FelixMetrics(
            f"{name}-felix",
            FelixMetricsArgs(datastore=settings.datastore, calicoctl=settings.calicoctl, felix=settings.felix),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.metrics_port = CalicoNodeMetricsPort(
            f"{name}-calico-node-port",
            CalicoNodeMetricsPortArgs(calico_node=settings.calico_node, metrics_port=settings.felix.metrics_port),
            opts=pulumi.ResourceOptions.merge(kubernetes, pulumi.ResourceOptions(depends_on=[self.felix])),
        )
        self.pod_monitor = FelixPodMonitor(
            f"{name}-felix-podmonitor",
            FelixPodMonitorArgs(pod_monitor=settings.pod_monitor, calico_node=settings.calico_node),
            opts=pulumi.ResourceOptions.merge(kubernetes, pulumi.ResourceOptions(depends_on=[self.metrics_port])),
        )
        self.register_outputs(
            {
                "felixMetrics": self.felix.applied,
                "scrapeJob": self.pod_monitor.job,
            }
        )
