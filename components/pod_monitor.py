"""Scrape targets: PodMonitors, and ServiceMonitors with the Service they select."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.manifests import felix_pod_monitor
from configuration import CalicoNodeSettings, PodMonitorSettings


def custom_resource(
    name: str,
    manifest: dict[str, Any],
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource] | None = None,
    *,
    patch: bool = False,
) -> pulumi.CustomResource:
    """A custom resource from its manifest; with ``patch``, a server-side-apply patch of one we do not own."""
    resource_class = k8s.apiextensions.CustomResourcePatch if patch else k8s.apiextensions.CustomResource
    return resource_class(
        name,
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        metadata=manifest["metadata"],
        spec=manifest["spec"],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on or []),
    )


@dataclass(frozen=True)
class FelixPodMonitorArgs:
    pod_monitor: PodMonitorSettings
    calico_node: CalicoNodeSettings


class FelixPodMonitor(pulumi.ComponentResource):
    """The tutorial's PodMonitor for Felix on every calico-node pod."""

    def __init__(self, name: str, args: FelixPodMonitorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("calico-monitoring:index:FelixPodMonitor", name, None, opts)
        self.pod_monitor = custom_resource(
            f"{name}-podmonitor", felix_pod_monitor(args.pod_monitor, args.calico_node), self
        )
        self.job = args.pod_monitor.job
        self.register_outputs({"job": self.job})


class MetricsServiceMonitor(pulumi.ComponentResource):
    """A ServiceMonitor, and the headless Service it selects when Calico brings none."""

    def __init__(
        self,
        name: str,
        monitor: dict[str, Any],
        service: dict[str, Any] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("calico-monitoring:index:MetricsServiceMonitor", name, None, opts)
        if service is not None:
            self.service = k8s.core.v1.Service(
                f"{name}-service",
                metadata=service["metadata"],
                spec=service["spec"],
                opts=pulumi.ResourceOptions(parent=self),
            )
        depends = [self.service] if service is not None else []
        self.service_monitor = custom_resource(f"{name}-servicemonitor", monitor, self, depends)
        self.register_outputs({})
