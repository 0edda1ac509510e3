"""FelixPodMonitor: tells Prometheus-Operator to scrape Felix on every calico-node pod."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.manifests import felix_pod_monitor
from components.settings import CalicoNodeSettings, PodMonitorSettings


@dataclass(frozen=True)
class FelixPodMonitorArgs:
    pod_monitor: PodMonitorSettings
    calico_node: CalicoNodeSettings


class FelixPodMonitor(pulumi.ComponentResource):
    def __init__(self, name: str, args: FelixPodMonitorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("calico-monitoring:index:FelixPodMonitor", name, None, opts)
        manifest = felix_pod_monitor(args.pod_monitor, args.calico_node)
        self.pod_monitor = k8s.apiextensions.CustomResource(
            f"{name}-podmonitor",
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.job = args.pod_monitor.job
        self.register_outputs({"job": self.job})
