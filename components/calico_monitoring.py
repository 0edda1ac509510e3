"""CalicoMonitoring: everything one cluster's stack creates, in order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from builders.manifests import (
    MONITORING_API,
    OPERATOR_KUBE_CONTROLLERS_SERVICE,
    OPERATOR_TYPHA_SERVICE,
    felix_pod_monitor,
    felix_service_scrape,
)
from calicoctl.command import CalicoctlTarget
from components.alerts import CalicoAlerts, CalicoAlertsArgs
from components.dashboards import CalicoDashboards, CalicoDashboardsArgs
from components.felix import FelixMetrics, FelixMetricsArgs, UpgradeFrom
from components.kube_controllers import KubeControllersMetrics, KubeControllersMetricsArgs
from components.monitors import WorkloadScrape, workload_monitor_manifests
from components.patches import PatchGiveBack
from components.prerequisites import ClusterPrerequisites, object_in_the_way_check
from components.typha import TyphaMetrics, TyphaMetricsArgs
from components.verification import ScrapeVerification, ScrapeVerificationArgs
from configuration import KubernetesProviderSettings, Settings, WorkloadSettings
from dashboards.configmaps import dashboard_configmaps, dashboard_files
from dashboards.document import DashboardError
from patch_release.connection import connection_props

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


def patch_connection(settings: KubernetesProviderSettings) -> dict:
    """The provider's connection settings, for the PatchReleases (the kubeconfig text stays secret)."""
    content = settings.kubeconfig_content
    return connection_props(
        settings.kubeconfig_path,
        pulumi.Output.secret(content.reveal()) if content is not None else None,
        settings.context,
    )


def kubernetes_provider_from(opts: pulumi.ResourceOptions | None) -> pulumi.ProviderResource | None:
    """The Kubernetes provider a program hands the component through `provider` or `providers`."""
    if opts is None:
        return None
    candidates: list[pulumi.ProviderResource] = []
    if opts.provider is not None:
        candidates.append(opts.provider)
    providers = opts.providers
    if isinstance(providers, dict):
        candidates.extend(providers.values())
    elif providers:
        candidates.extend(providers)
    for provider in candidates:
        if getattr(provider, "package", None) == "kubernetes":
            return provider
    return None


class CalicoMonitoring(pulumi.ComponentResource):
    """Felix metrics on, then the port declared (or a Service), then the monitor; Typha,
    kube-controllers, alerts and dashboards beside them.

    Used as a program, it builds its own Kubernetes provider from the stack configuration;
    inside another program, pass one with `opts=ResourceOptions(providers=[provider])`."""

    provider: pulumi.ProviderResource
    felix: FelixMetrics
    outputs: dict[str, pulumi.Input]

    def __init__(self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None) -> None:
        # Dashboards are read and checked first: a bad import stops the program before any resource.
        dashboards = []
        if settings.dashboards.enabled:
            try:
                files = dashboard_files(
                    settings.dashboards,
                    settings.jobs,
                    import_jobs=settings.all_jobs,
                    alert_overrides=settings.alerts.overrides,
                )
                dashboards = dashboard_configmaps(settings.dashboards, files)
            except DashboardError as error:
                raise pulumi.RunError(f"calico-monitoring:dashboards.import: {error}") from None
        given = kubernetes_provider_from(opts)
        if given is not None and settings.render_yaml_to is not None:
            raise pulumi.RunError(
                "calico-monitoring:renderYamlTo: render mode needs the component's own provider; "
                "leave the Kubernetes provider out of opts or unset renderYamlTo"
            )
        super().__init__("calico-monitoring:index:CalicoMonitoring", name, None, opts)
        if given is not None:
            self.provider = given
        else:
            provider_args = kubernetes_provider_args(settings.kubernetes)
            if settings.render_yaml_to is not None:
                # Render mode talks to no cluster: the provider refuses a context or kubeconfig beside it.
                provider_args = {**provider_args, "kubeconfig": ""}
                provider_args.pop("context", None)
                provider_args["render_yaml_to_directory"] = f"{settings.render_yaml_to.rstrip('/')}/manifests"
            self.provider = k8s.Provider(
                f"{name}-kubernetes", **provider_args, opts=pulumi.ResourceOptions(parent=self)
            )
        kubernetes = pulumi.ResourceOptions(parent=self, providers={"kubernetes": self.provider})
        # Destroy gives the patches' fields back through the stack's own connection (components/patches.py);
        # not for a provider handed in, whose connection the component cannot see, nor in render mode.
        give_back = (
            PatchGiveBack(patch_connection(settings.kubernetes))
            if given is None and settings.render_yaml_to is None
            else None
        )

        if settings.render_yaml_to is None:
            prerequisites = ClusterPrerequisites(
                f"{name}-prerequisites", settings, objects_created(settings, dashboards), opts=kubernetes
            )
            # A missing prerequisite stops the run before anything is applied. After a refresh has
            # dropped a patch whose target was deleted, applying it again would recreate the object
            # (an Installation, which the operator would install Calico from) or fail half-way.
            kubernetes = pulumi.ResourceOptions.merge(kubernetes, pulumi.ResourceOptions(depends_on=[prerequisites]))
        target = CalicoctlTarget(settings.datastore, settings.calicoctl, settings.render_yaml_to)
        self.felix = FelixMetrics(
            f"{name}-felix",
            FelixMetricsArgs(
                target=target,
                felix=settings.felix,
                calico_node=settings.calico_node,
                pod_monitor=settings.monitor_settings("felix"),
                declare_port=settings.declares_ports,
                monitor=settings.monitored("felix"),
                upgrade_from=UpgradeFrom(root_urn=self.urn, root_name=name),
                give_back=give_back,
            ),
            opts=kubernetes,
        )
        monitors = [self.felix.monitor] if self.felix.monitor is not None else []
        if settings.typha.enabled:
            self.typha = TyphaMetrics(
                f"{name}-typha",
                TyphaMetricsArgs(
                    typha=settings.typha,
                    scrape=workload_scrape(settings, "typha", settings.typha, OPERATOR_TYPHA_SERVICE),
                    give_back=give_back,
                ),
                opts=kubernetes,
            )
            if self.typha.monitor is not None:
                monitors.append(self.typha.monitor)
        if settings.kube_controllers.enabled:
            self.kube_controllers = KubeControllersMetrics(
                f"{name}-kube-controllers",
                KubeControllersMetricsArgs(
                    kube_controllers=settings.kube_controllers,
                    target=target,
                    scrape=workload_scrape(
                        settings, "kube-controllers", settings.kube_controllers, OPERATOR_KUBE_CONTROLLERS_SERVICE
                    ),
                    give_back=give_back,
                ),
                opts=kubernetes,
            )
            if self.kube_controllers.monitor is not None:
                monitors.append(self.kube_controllers.monitor)
        if settings.jobs and (settings.alerts.enabled or dashboards):  # no jobs: every monitor turned off
            self.alerts = CalicoAlerts(
                f"{name}-alerts",
                CalicoAlertsArgs(alerts=settings.alerts, jobs=settings.jobs, dashboards=settings.dashboards),
                opts=kubernetes,
            )
        if dashboards:
            self.dashboards = CalicoDashboards(
                f"{name}-dashboards", CalicoDashboardsArgs(configmaps=dashboards), opts=kubernetes
            )
        self.outputs = {"felixMetrics": self.felix.applied, "scrapeJobs": settings.jobs}
        if settings.kube_controllers.enabled:
            self.outputs["kubeControllersMetrics"] = self.kube_controllers.applied
        if self.felix.rollout is not None:
            self.outputs["calicoNodeRollout"] = self.felix.rollout
        if settings.verify is not None:
            felix_scheduled = (
                self.felix.rollout.apply(lambda rollout: rollout["desiredNumberScheduled"] or 0)
                if self.felix.rollout is not None
                else None
            )
            self.verification = ScrapeVerification(
                f"{name}-verify",
                ScrapeVerificationArgs(settings=settings, monitors=monitors, felix_scheduled=felix_scheduled),
                opts=kubernetes,
            )
            self.outputs["scrapeTargets"] = self.verification.targets
        self.register_outputs(self.outputs)


def workload_scrape(
    settings: Settings, component: str, workload: WorkloadSettings, operator_service: Mapping[str, Any]
) -> WorkloadScrape:
    return WorkloadScrape(
        install=settings.install,
        declare_port=settings.declares_ports,
        monitors=settings.monitor_settings(component),
        component=component,
        operator_service=operator_service,
        job=settings.monitor_job(workload.monitor_name),
        monitor=settings.monitored(component),
    )


def renamed_with(manifest: dict[str, Any], key: str) -> str:
    kind = manifest["kind"]
    return f", or give this stack's {kind} another name with `pulumi config set --path calico-monitoring:{key} <name>`"


def objects_created(settings: Settings, dashboards: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Every object of a fixed name the stack creates (patches of Calico's own objects aside), each
    from the manifest its component builds, with the way out of a clash the preflight check names."""
    created: list[dict[str, str]] = []
    if settings.monitored("felix"):
        felix = settings.monitor_settings("felix")
        if settings.declares_ports:
            monitor = felix_pod_monitor(felix, settings.calico_node)
            created.append(object_in_the_way_check(monitor, renamed_with(monitor, "podMonitor.name")))
        else:
            service, monitor = felix_service_scrape(felix, settings.calico_node, settings.felix.metrics_port)
            created.append(object_in_the_way_check(service, ""))
            created.append(object_in_the_way_check(monitor, renamed_with(monitor, "podMonitor.name")))
    workloads = (
        ("typha", "typha", settings.typha, OPERATOR_TYPHA_SERVICE),
        ("kube-controllers", "kubeControllers", settings.kube_controllers, OPERATOR_KUBE_CONTROLLERS_SERVICE),
    )
    for component, key, workload, operator_service in workloads:
        if workload.enabled and settings.monitored(component):
            scrape = workload_scrape(settings, component, workload, operator_service)
            service, monitor = workload_monitor_manifests(scrape, workload, node_label=False)
            if service is not None:
                created.append(object_in_the_way_check(service, renamed_with(service, f"{key}.monitorName")))
            created.append(object_in_the_way_check(monitor, renamed_with(monitor, f"{key}.monitorName")))
    if settings.jobs and (settings.alerts.enabled or dashboards):
        rule = {
            "apiVersion": MONITORING_API,
            "kind": "PrometheusRule",
            "metadata": {"name": settings.alerts.name, "namespace": settings.alerts.namespace},
        }
        created.append(object_in_the_way_check(rule, renamed_with(rule, "alerts.name")))
    for configmap in dashboards:
        created.append(
            object_in_the_way_check(configmap, ", or move the dashboards with calico-monitoring:dashboards.namespace")
        )
    return created
