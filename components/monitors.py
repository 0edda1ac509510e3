"""The Kubernetes resources of a scrape, created as children of the part they monitor.

Not ComponentResources themselves: each part (Felix, Typha, kube-controllers) owns its
monitor directly, so resource names say `<part>-podmonitor`, `<part>-servicemonitor`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from builders.manifests import app_selector, pod_monitor, service_monitor, service_scrape
from builders.urns import child_urn
from configuration import PodMonitorSettings, WorkloadSettings

# Types that earlier releases put between a part and its monitor resources.
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


def service_scrape_resources(
    name: str,
    service: dict[str, Any] | None,
    monitor: dict[str, Any],
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
    *,
    legacy_parent_urn: pulumi.Input[str],
) -> tuple[k8s.core.v1.Service | None, pulumi.CustomResource]:
    """``<name>-service`` (when Calico brings no Service) and ``<name>-servicemonitor`` selecting it.

    Up to 0.2 both sat in a MetricsServiceMonitor component ``<name>-monitor`` under
    ``legacy_parent_urn``; the aliases carry a stack made then over without replacing them.
    """
    old_component = pulumi.Output.from_input(legacy_parent_urn).apply(
        lambda urn: child_urn(urn, METRICS_SERVICE_MONITOR_TYPE, f"{name}-monitor")
    )

    def old(type_: str, suffix: str) -> pulumi.Output[str]:
        return old_component.apply(lambda urn: child_urn(urn, type_, f"{name}-monitor-{suffix}"))

    created: k8s.core.v1.Service | None = None
    if service is not None:
        created = k8s.core.v1.Service(
            f"{name}-service",
            metadata=service["metadata"],
            spec=service["spec"],
            opts=pulumi.ResourceOptions(
                parent=parent, depends_on=list(depends_on), aliases=[old(SERVICE_TYPE, "service")]
            ),
        )
    monitor_resource = custom_resource(
        f"{name}-servicemonitor",
        monitor,
        parent,
        [*depends_on, *([created] if created is not None else [])],
        aliases=[old(SERVICE_MONITOR_TYPE, "servicemonitor")],
    )
    return created, monitor_resource


@dataclass(frozen=True)
class WorkloadScrape:
    """How the stack scrapes one Calico Deployment (Typha or kube-controllers)."""

    install: str  # "manifest" or "operator"
    declare_port: bool  # manifest install with a PodMonitor on a declared port
    monitors: PodMonitorSettings
    component: str  # "typha" or "kube-controllers": which shipped queries keepOnlyUsedMetrics keeps
    operator_service: Mapping[str, Any]  # the Tigera operator's metrics Service of the workload
    job: str


def scrape_workload(
    name: str,
    scrape: WorkloadScrape,
    workload: WorkloadSettings,
    *,
    node_label: bool,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
) -> pulumi.CustomResource:
    """The monitor of a Deployment: a PodMonitor on its declared port (manifest install, pod
    scrape), a ServiceMonitor on a headless Service of ours (manifest install, service
    scrape), or a ServiceMonitor on the operator's own metrics Service."""
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
    _service, monitor_resource = service_scrape_resources(
        name, service, monitor, parent, depends_on, legacy_parent_urn=parent.urn
    )
    return monitor_resource
