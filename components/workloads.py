"""Typha and calico-kube-controllers metrics, for manifest and operator installs."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.calico_node_port import deployment_patch
from components.felix_metrics import CalicoctlTarget, applied_settings, calicoctl_patch_command
from components.manifests import (
    OPERATOR_KUBE_CONTROLLERS_SERVICE,
    OPERATOR_TYPHA_SERVICE,
    align_with_live,
    app_selector,
    installation_typha_patch,
    kube_controllers_port_patch,
    pod_monitor,
    service_monitor,
    service_scrape,
    typha_patch,
)
from components.pod_monitor import MetricsServiceMonitor, custom_resource
from components.sdk_values import plain
from configuration import Settings, WorkloadSettings


def scrape_workload(
    name: str,
    settings: Settings,
    workload: WorkloadSettings,
    *,
    operator_service: dict[str, Any],
    node_label: bool,
    component: str,
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource],
) -> pulumi.Resource:
    """The monitor of a Deployment: a PodMonitor on its declared port (manifest install, pod
    scrape), a ServiceMonitor on a headless Service of ours (manifest install, service
    scrape), or a ServiceMonitor on the operator's own metrics Service."""
    monitors = settings.pod_monitor
    if settings.declares_ports:
        manifest = pod_monitor(
            workload.monitor_name,
            monitors,
            selector=app_selector(workload.deployment),
            namespace=workload.namespace,
            port_name=workload.port_name,
            node_label=node_label,
            component=component,
        )
        return custom_resource(f"{name}-podmonitor", manifest, parent, depends_on)
    if settings.install == "manifest":
        service, monitor = service_scrape(
            f"calico-monitoring-{workload.monitor_name}",
            workload.monitor_name,
            monitors,
            namespace=workload.namespace,
            pod_selector=app_selector(workload.deployment),
            port=workload.metrics_port,
            port_name=workload.port_name,
            node_label=node_label,
            component=component,
        )
    else:
        service = None
        monitor = service_monitor(
            workload.monitor_name,
            monitors,
            selector=operator_service["selector"],
            namespace=workload.namespace,
            port_name=operator_service["port"],
            node_label=node_label,
            component=component,
        )
    return MetricsServiceMonitor(
        f"{name}-monitor", monitor, service, opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on)
    )


class TyphaMetrics(pulumi.ComponentResource):
    """Typha's metrics on (port 9093 by default) and scraped.

    manifest: a patch of the calico-typha Deployment sets TYPHA_PROMETHEUSMETRICSENABLED
    and the port (one Typha rollout), then a PodMonitor, or a Service and ServiceMonitor.
    operator: `typhaMetricsPort` on the Installation; the operator configures Typha and
    creates the `calico-typha-metrics` Service, which a ServiceMonitor selects.
    """

    def __init__(self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("calico-monitoring:index:TyphaMetrics", name, None, opts)
        typha = settings.typha
        if settings.install == "operator":
            manifest = installation_typha_patch(typha.metrics_port)
            self.enable = custom_resource(f"{name}-installation-patch", manifest, self, patch=True)
        else:
            manifest = typha_patch(typha, declare_port=settings.declares_ports)
            # calico-typha already has env and ports entries: the patch lists them before ours.
            live = k8s.apps.v1.Deployment.get(
                f"{name}-live-deployment",
                f"{typha.namespace}/{typha.deployment}",
                opts=pulumi.ResourceOptions(parent=self),
            )
            spec = live.spec.apply(lambda current: align_with_live(manifest, plain(current)))
            self.enable = k8s.apps.v1.DeploymentPatch(
                f"{name}-deployment-patch",
                metadata=manifest["metadata"],
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.monitor = scrape_workload(
            name,
            settings,
            typha,
            operator_service=OPERATOR_TYPHA_SERVICE,
            node_label=True,
            component="typha",
            parent=self,
            depends_on=[self.enable],
        )
        self.register_outputs({"job": settings.monitor_job(typha.monitor_name)})


class KubeControllersMetrics(pulumi.ComponentResource):
    """calico-kube-controllers' metrics (port 9094 by default) on and scraped.

    The port is set with calicoctl on KubeControllersConfiguration `default` (previous
    value restored on destroy), in every install type. manifest + pod scrape also
    declares the port on the Deployment for a PodMonitor; otherwise a ServiceMonitor
    selects a headless Service of ours, or the operator's own metrics Service.
    """

    applied: pulumi.Output[Any]

    def __init__(
        self, name: str, settings: Settings, target: CalicoctlTarget, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("calico-monitoring:index:KubeControllersMetrics", name, None, opts)
        workload = settings.kube_controllers
        patch = {"spec": {"prometheusMetricsPort": workload.metrics_port}}
        self.command = calicoctl_patch_command(
            f"{name}-calicoctl-patch", "kubeControllersConfiguration", patch, target, self
        )
        self.applied = applied_settings(self.command)
        ready: list[pulumi.Resource] = [self.command]
        if settings.declares_ports:
            ready.append(deployment_patch(f"{name}-deployment-patch", kube_controllers_port_patch(workload), self))
        self.monitor = scrape_workload(
            name,
            settings,
            workload,
            operator_service=OPERATOR_KUBE_CONTROLLERS_SERVICE,
            node_label=False,  # ipam_* series carry their own `node` label
            component="kube-controllers",
            parent=self,
            depends_on=ready,
        )
        self.register_outputs({"applied": self.applied, "job": settings.monitor_job(workload.monitor_name)})
