"""CalicoMonitoring: everything one cluster's stack creates, in order."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from builders.plan import StackPlan, plan_stack
from calicoctl.command import CalicoctlTarget
from components.alerts import CalicoAlerts, CalicoAlertsArgs
from components.dashboards import CalicoDashboards, CalicoDashboardsArgs
from components.felix import FelixMetrics, FelixMetricsArgs, UpgradeFrom
from components.kube_controllers import KubeControllersMetrics, KubeControllersMetricsArgs
from components.patches import PatchGiveBack
from components.prerequisites import ClusterPrerequisites
from components.resource_types import ResourceTypes
from components.typha import TyphaMetrics, TyphaMetricsArgs
from components.verification import ScrapeVerification, ScrapeVerificationArgs
from configuration import KubernetesProviderSettings, Settings
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


def stack_plan(settings: Settings) -> StackPlan:
    """The plan of the stack; a bad dashboard import stops the program before any resource, naming it."""
    try:
        return plan_stack(settings)
    except DashboardError as error:
        raise pulumi.RunError(f"calico-monitoring:dashboards.import: {error}") from None


class CalicoMonitoring(pulumi.ComponentResource):
    """Felix metrics on, then the port declared (or a Service), then the monitor; Typha,
    kube-controllers, alerts and dashboards beside them, each as the stack's plan (builders.plan) has it.

    Used as a program, it builds its own Kubernetes provider from the stack configuration;
    inside another program, pass one with `opts=ResourceOptions(providers=[provider])`.
    ``resource_types`` says what the calicoctl patches and PatchReleases are created as (the component
    package passes its own)."""

    provider: pulumi.ProviderResource
    plan: StackPlan
    felix: FelixMetrics
    outputs: dict[str, pulumi.Input]

    def __init__(
        self,
        name: str,
        settings: Settings,
        opts: pulumi.ResourceOptions | None = None,
        resource_types: ResourceTypes | None = None,
    ) -> None:
        types = resource_types or ResourceTypes()
        plan = self.plan = stack_plan(settings)
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
            PatchGiveBack(patch_connection(settings.kubernetes), types.patch_release)
            if given is None and settings.render_yaml_to is None
            else None
        )

        if settings.render_yaml_to is None:
            prerequisites = ClusterPrerequisites(f"{name}-prerequisites", plan, types.preflight_chart, opts=kubernetes)
            # A missing prerequisite stops the run before anything is applied. After a refresh has
            # dropped a patch whose target was deleted, applying it again would recreate the object
            # (an Installation, which the operator would install Calico from) or fail half-way.
            kubernetes = pulumi.ResourceOptions.merge(kubernetes, pulumi.ResourceOptions(depends_on=[prerequisites]))
        target = CalicoctlTarget(settings.datastore, settings.calicoctl, settings.render_yaml_to)
        felix_plan = plan.component("felix")
        assert felix_plan is not None  # Felix's metrics are always turned on
        self.felix = FelixMetrics(
            f"{name}-felix",
            FelixMetricsArgs(
                target=target,
                plan=felix_plan,
                calicoctl_patch=types.calicoctl_patch,
                upgrade_from=UpgradeFrom(root_urn=self.urn, root_name=name),
                give_back=give_back,
            ),
            opts=kubernetes,
        )
        monitors = [self.felix.monitor] if self.felix.monitor is not None else []
        typha_plan = plan.component("typha")
        if typha_plan is not None:
            self.typha = TyphaMetrics(
                f"{name}-typha", TyphaMetricsArgs(plan=typha_plan, give_back=give_back), opts=kubernetes
            )
            if self.typha.monitor is not None:
                monitors.append(self.typha.monitor)
        kube_controllers_plan = plan.component("kube-controllers")
        if kube_controllers_plan is not None:
            self.kube_controllers = KubeControllersMetrics(
                f"{name}-kube-controllers",
                KubeControllersMetricsArgs(
                    plan=kube_controllers_plan,
                    target=target,
                    calicoctl_patch=types.calicoctl_patch,
                    give_back=give_back,
                ),
                opts=kubernetes,
            )
            if self.kube_controllers.monitor is not None:
                monitors.append(self.kube_controllers.monitor)
        if plan.rule is not None:
            self.alerts = CalicoAlerts(f"{name}-alerts", CalicoAlertsArgs(rule=plan.rule), opts=kubernetes)
        if plan.dashboards:
            self.dashboards = CalicoDashboards(
                f"{name}-dashboards", CalicoDashboardsArgs(configmaps=list(plan.dashboards)), opts=kubernetes
            )
        self.outputs = {"felixMetrics": self.felix.applied, "scrapeJobs": plan.jobs}
        if kube_controllers_plan is not None:
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
                ScrapeVerificationArgs(
                    verify=settings.verify,
                    plan=plan,
                    monitors=monitors,
                    felix_scheduled=felix_scheduled,
                    kubernetes=settings.kubernetes if given is None else None,
                ),
                opts=kubernetes,
            )
            self.outputs["scrapeTargets"] = self.verification.targets
        self.register_outputs(self.outputs)
