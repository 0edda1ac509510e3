"""What scrapes a Calico part: PodMonitors, and ServiceMonitors with the Service they select."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from builders.manifests import app_selector, pod_monitor, service_monitor, service_scrape
from builders.urns import child_urn
from configuration import PodMonitorSettings, WorkloadSettings

METRICS_SERVICE_MONITOR_TYPE = "calico-monitoring:index:MetricsServiceMonitor"
SERVICE_TYPE = "kubernetes:core/v1:Service"
SERVICE_MONITOR_TYPE = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"


def custom_resource(
    name: str,
    manifest: dict[str, Any],
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
    *,
    patch: bool = False,
    aliases: Sequence[pulumi.Input[str]] = (),
) -> pulumi.CustomResource:
    """A custom resource from its manifest; with ``patch``, a server-side-apply patch of one we do not own."""
    resource_class = k8s.apiextensions.CustomResourcePatch if patch else k8s.apiextensions.CustomResource
    return resource_class(
        name,
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        metadata=manifest["metadata"],
        spec=manifest["spec"],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on), aliases=list(aliases)),
    )


@dataclass(frozen=True)
class MetricsServiceMonitorArgs:
    monitor: dict[str, Any]
    service: dict[str, Any] | None = None
    # Where an earlier release had this component (its URN and name), when it has moved since.
    old_urn: pulumi.Input[str] | None = None
    old_name: str = ""


class MetricsServiceMonitor(pulumi.ComponentResource):
    """A ServiceMonitor, and the headless Service it selects when Calico brings none."""

    service: k8s.core.v1.Service | None
    service_monitor: pulumi.CustomResource

    def __init__(
        self,
        name: str,
        args: MetricsServiceMonitorArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(METRICS_SERVICE_MONITOR_TYPE, name, None, opts)
        old = [pulumi.Output.from_input(args.old_urn)] if args.old_urn is not None else []

        def aliases(type_: str, suffix: str) -> list[pulumi.Input[str]]:
            return [urn.apply(lambda u: child_urn(u, type_, f"{args.old_name}-{suffix}")) for urn in old]

        self.service = None
        if args.service is not None:
            self.service = k8s.core.v1.Service(
                f"{name}-service",
                metadata=args.service["metadata"],
                spec=args.service["spec"],
                opts=pulumi.ResourceOptions(parent=self, aliases=aliases(SERVICE_TYPE, "service")),
            )
        self.service_monitor = custom_resource(
            f"{name}-servicemonitor",
            args.monitor,
            self,
            [self.service] if self.service is not None else [],
            aliases=aliases(SERVICE_MONITOR_TYPE, "servicemonitor"),
        )
        self.register_outputs({})


@dataclass(frozen=True)
class WorkloadScrape:
    """How the stack scrapes one Calico Deployment (Typha or kube-controllers)."""

    install: str  # "manifest" or "operator"
    declare_port: bool  # manifest install with a PodMonitor on a declared port
    monitors: PodMonitorSettings
    component: str  # "typha" or "kube-controllers": which shipped queries keepOnlyUsedMetrics keeps
    operator_service: Mapping[str, Any]  # the Tigera operator's metrics Service of the workload
    job: str
    monitor: bool = True  # False (<component>.monitor.enabled): metrics on, no monitor of ours


def scrape_workload(
    name: str,
    scrape: WorkloadScrape,
    workload: WorkloadSettings,
    *,
    node_label: bool,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
) -> pulumi.CustomResource | None:
    """The monitor of a Deployment: a PodMonitor on its declared port (manifest install, pod
    scrape), a ServiceMonitor on a headless Service of ours (manifest install, service
    scrape), or a ServiceMonitor on the operator's own metrics Service; none when the stack
    turned the monitor off."""
    if not scrape.monitor:
        return None
    common = {"namespace": workload.namespace, "node_label": node_label, "component": scrape.component}
    if scrape.declare_port:
        manifest = pod_monitor(
            workload.monitor_name,
            scrape.monitors,
            selector=app_selector(workload.deployment),
            port_name=workload.port_name,
            **common,
        )
        return custom_resource(f"{name}-podmonitor", manifest, parent, depends_on)
    service: dict[str, Any] | None = None
    if scrape.install == "manifest":
        service, monitor = service_scrape(
            f"calico-monitoring-{workload.monitor_name}",
            workload.monitor_name,
            scrape.monitors,
            pod_selector=app_selector(workload.deployment),
            port=workload.metrics_port,
            port_name=workload.port_name,
            **common,
        )
    else:
        monitor = service_monitor(
            workload.monitor_name,
            scrape.monitors,
            selector=dict(scrape.operator_service["selector"]),
            port_name=scrape.operator_service["port"],
            **common,
        )
    scrape_component = MetricsServiceMonitor(
        f"{name}-monitor",
        MetricsServiceMonitorArgs(monitor=monitor, service=service),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
    return scrape_component.service_monitor
