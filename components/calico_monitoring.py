"""CalicoMonitoring: everything one cluster's stack creates, in order."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.alerts import CalicoAlerts
from components.calico_node_port import CalicoNodeMetricsPort, CalicoNodeMetricsPortArgs
from components.dashboard_json import DashboardError
from components.dashboards import CalicoDashboards, dashboard_configmaps, dashboard_files
from components.felix_metrics import CalicoctlTarget, FelixMetrics, FelixMetricsArgs
from components.manifests import felix_service_scrape
from components.pod_monitor import FelixPodMonitor, FelixPodMonitorArgs, MetricsServiceMonitor
from components.prerequisites import ClusterPrerequisites
from components.verification import ScrapeVerification
from components.workloads import KubeControllersMetrics, TyphaMetrics
from configuration import KubernetesProviderSettings, Settings

# Provider flags are set explicitly: the SDK otherwise fills unset ones from the KUBECONFIG
# and PULUMI_K8S_* variables of whoever runs the program, so two machines would preview
# different provider inputs. Left out on purpose: deleteUnreachable and skipUpdateUnreachable,
# the provider's escape hatches for a cluster that is gone, which an operator sets for one
# run with PULUMI_K8S_DELETE_UNREACHABLE / PULUMI_K8S_SKIP_UPDATE_UNREACHABLE.
PROVIDER_FLAGS = {
    "enable_server_side_apply": True,  # the DaemonSet patch needs server-side apply
    # The only ConfigMaps are the dashboards: an edit updates them in place, where an
    # immutable one would be deleted and recreated (Grafana drops, then re-adds, them).
    "enable_config_map_mutable": True,
    "enable_secret_mutable": False,
    "suppress_deprecation_warnings": False,
    "suppress_helm_hook_warnings": False,
}


def kubernetes_provider_args(settings: KubernetesProviderSettings) -> dict:
    # An empty kubeconfig means the provider's default lookup (KUBECONFIG, then ~/.kube/config),
    # resolved when it runs rather than baked into the inputs.
    args: dict = {**PROVIDER_FLAGS, "kubeconfig": ""}
    if settings.kubeconfig_path is not None:
        args["kubeconfig"] = settings.kubeconfig_path
    elif settings.kubeconfig_content is not None:
        args["kubeconfig"] = pulumi.Output.secret(settings.kubeconfig_content.reveal())
    if settings.context is not None:
        args["context"] = settings.context
    return args


class CalicoMonitoring(pulumi.ComponentResource):
    """Felix metrics on, then the port declared (or a Service), then the monitor; Typha,
    kube-controllers, alerts and dashboards beside them."""

    def __init__(self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None) -> None:
        # Dashboards are read and checked first: a bad import stops the program before any resource.
        dashboards = []
        if settings.dashboards.enabled:
            try:
                files = dashboard_files(settings.dashboards, settings.jobs, import_jobs=settings.all_jobs)
                dashboards = dashboard_configmaps(settings.dashboards, files)
            except DashboardError as error:
                raise pulumi.RunError(f"calico-monitoring:dashboards.import: {error}") from None
        super().__init__("calico-monitoring:index:CalicoMonitoring", name, None, opts)
        provider_args = kubernetes_provider_args(settings.kubernetes)
        if settings.render_yaml_to is not None:
            # Render mode talks to no cluster: the provider refuses a context or kubeconfig beside it.
            provider_args = {**provider_args, "kubeconfig": ""}
            provider_args.pop("context", None)
            provider_args["render_yaml_to_directory"] = f"{settings.render_yaml_to.rstrip('/')}/manifests"
        self.provider = k8s.Provider(f"{name}-kubernetes", **provider_args, opts=pulumi.ResourceOptions(parent=self))
        kubernetes = pulumi.ResourceOptions(parent=self, providers=[self.provider])

        def after(*resources: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions.merge(kubernetes, pulumi.ResourceOptions(depends_on=list(resources)))

        if settings.render_yaml_to is None:
            ClusterPrerequisites(f"{name}-prerequisites", settings, opts=kubernetes)
        target = CalicoctlTarget(settings.datastore, settings.calicoctl, settings.render_yaml_to)
        self.felix = FelixMetrics(
            f"{name}-felix",
            FelixMetricsArgs(target=target, felix=settings.felix),
            opts=pulumi.ResourceOptions(parent=self),
        )
        if settings.declares_ports:
            self.metrics_port = CalicoNodeMetricsPort(
                f"{name}-calico-node-port",
                CalicoNodeMetricsPortArgs(calico_node=settings.calico_node, metrics_port=settings.felix.metrics_port),
                opts=after(self.felix),
            )
            self.felix_monitor = FelixPodMonitor(
                f"{name}-felix-podmonitor",
                FelixPodMonitorArgs(pod_monitor=settings.pod_monitor, calico_node=settings.calico_node),
                opts=after(self.metrics_port),
            )
        else:
            service, monitor = felix_service_scrape(
                settings.pod_monitor, settings.calico_node, settings.felix.metrics_port
            )
            self.felix_monitor = MetricsServiceMonitor(
                f"{name}-felix-monitor", monitor, service, opts=after(self.felix)
            )
        if settings.typha.enabled:
            self.typha = TyphaMetrics(f"{name}-typha", settings, opts=kubernetes)
        if settings.kube_controllers.enabled:
            self.kube_controllers = KubeControllersMetrics(
                f"{name}-kube-controllers", settings, target, opts=kubernetes
            )
        if settings.alerts.enabled or dashboards:
            self.alerts = CalicoAlerts(f"{name}-alerts", settings.alerts, settings.jobs, opts=kubernetes)
        if dashboards:
            self.dashboards = CalicoDashboards(f"{name}-dashboards", dashboards, opts=kubernetes)
        self.outputs: dict[str, pulumi.Input] = {"felixMetrics": self.felix.applied, "scrapeJobs": settings.jobs}
        if settings.kube_controllers.enabled:
            self.outputs["kubeControllersMetrics"] = self.kube_controllers.applied
        if settings.declares_ports:
            self.outputs["calicoNodeRollout"] = self.metrics_port.rollout
        if settings.verify is not None:
            monitors = [self.felix_monitor]
            if settings.typha.enabled:
                monitors.append(self.typha.monitor)
            if settings.kube_controllers.enabled:
                monitors.append(self.kube_controllers.monitor)
            felix_scheduled = (
                self.metrics_port.rollout.apply(lambda rollout: rollout["desiredNumberScheduled"] or 0)
                if settings.declares_ports
                else None
            )
            self.verification = ScrapeVerification(
                f"{name}-verify", settings, monitors, felix_scheduled, opts=kubernetes
            )
            self.outputs["scrapeTargets"] = self.verification.targets
        self.register_outputs(self.outputs)
