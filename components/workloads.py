"""Typha and calico-kube-controllers metrics, for manifest and operator installs."""

from __future__ import annotations

from typing import Any

import pulumi

from components.calico_node_port import deployment_patch
from components.felix_metrics import CalicoctlTarget, applied_settings, calicoctl_patch_command
from components.manifests import (
    OPERATOR_KUBE_CONTROLLERS_SERVICE,
    OPERATOR_TYPHA_SERVICE,
    app_selector,
    installation_typha_patch,
    kube_controllers_port_patch,
    metrics_service,
    pod_monitor,
    service_monitor,
    typha_patch,
)
from components.pod_monitor import MetricsServiceMonitor, custom_resource, custom_resource_patch
from components.settings import PodMonitorSettings, Settings, WorkloadSettings


def service_scrape(
    name: str,
    workload: WorkloadSettings,
    monitors: PodMonitorSettings,
    *,
    own_service: bool,
    operator_service: dict[str, Any] | None,
    node_label: bool,
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource],
) -> MetricsServiceMonitor:
    """ServiceMonitor on the operator's metrics Service, or on a headless Service of ours."""
    if own_service:
        service = metrics_service(
            f"calico-monitoring-{workload.monitor_name}",
            workload.namespace,
            pod_selector=app_selector(workload.deployment),
            port=workload.metrics_port,
            port_name=workload.port_name,
        )
        selector, port_name = dict(service["metadata"]["labels"]), workload.port_name
    else:
        service, selector, port_name = None, operator_service["selector"], operator_service["port"]
    monitor = service_monitor(
        workload.monitor_name,
        monitors,
        selector=selector,
        namespace=workload.namespace,
        port_name=port_name,
        node_label=node_label,
    )
    return MetricsServiceMonitor(
        name, monitor, service, opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on)
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
        typha, monitors = settings.typha, settings.pod_monitor
        if settings.install == "operator":
            manifest = installation_typha_patch(typha.metrics_port)
            self.enable = custom_resource_patch(f"{name}-installation-patch", manifest, self)
            self.monitor = service_scrape(
                f"{name}-monitor",
                typha,
                monitors,
                own_service=False,
                operator_service=OPERATOR_TYPHA_SERVICE,
                node_label=True,
                parent=self,
                depends_on=[self.enable],
            )
        else:
            by_pod = settings.felix.scrape == "pod"
            self.enable = deployment_patch(f"{name}-deployment-patch", typha_patch(typha, declare_port=by_pod), self)
            if by_pod:
                manifest = pod_monitor(
                    typha.monitor_name,
                    monitors,
                    selector=app_selector(typha.deployment),
                    namespace=typha.namespace,
                    port_name=typha.port_name,
                    node_label=True,
                )
                self.monitor = custom_resource(f"{name}-podmonitor", manifest, self, [self.enable])
            else:
                self.monitor = service_scrape(
                    f"{name}-monitor",
                    typha,
                    monitors,
                    own_service=True,
                    operator_service=None,
                    node_label=True,
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
        workload, monitors = settings.kube_controllers, settings.pod_monitor
        patch = {"spec": {"prometheusMetricsPort": workload.metrics_port}}
        self.command = calicoctl_patch_command(
            f"{name}-calicoctl-patch", "kubeControllersConfiguration", patch, target, self
        )
        self.applied = applied_settings(self.command)
        if settings.install == "manifest" and settings.felix.scrape == "pod":
            port = deployment_patch(f"{name}-deployment-patch", kube_controllers_port_patch(workload), self)
            port_ready = [self.command, port]
            manifest = pod_monitor(
                workload.monitor_name,
                monitors,
                selector=app_selector(workload.deployment),
                namespace=workload.namespace,
                port_name=workload.port_name,
                node_label=False,  # ipam_* series carry their own `node` label
            )
            self.monitor = custom_resource(f"{name}-podmonitor", manifest, self, port_ready)
        else:
            self.monitor = service_scrape(
                f"{name}-monitor",
                workload,
                monitors,
                own_service=settings.install == "manifest",
                operator_service=OPERATOR_KUBE_CONTROLLERS_SERVICE,
                node_label=False,
                parent=self,
                depends_on=[self.command],
            )
        self.register_outputs({"applied": self.applied, "job": settings.monitor_job(workload.monitor_name)})
