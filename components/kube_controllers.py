"""KubeControllersMetrics: calico-kube-controllers' metrics (port 9094 by default) on and scraped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from builders.plan import ComponentPlan
from calicoctl.command import CalicoctlTarget, calicoctl_patch_command
from components.monitors import scrape_component
from components.patches import PatchGiveBack, patch_options
from components.restart_warning import warn_of_restarts


@dataclass(frozen=True)
class KubeControllersMetricsArgs:
    plan: ComponentPlan  # the plan's kube-controllers: its calicoctl patch, the port declared or not, the monitor
    target: CalicoctlTarget
    calicoctl_patch: type[pulumi.CustomResource]
    give_back: PatchGiveBack | None = None


class KubeControllersMetrics(pulumi.ComponentResource):
    """The port is set with calicoctl on KubeControllersConfiguration `default` (previous value
    restored on destroy), in every install type. manifest + pod scrape also declares the port on
    the Deployment for a PodMonitor; otherwise a ServiceMonitor selects a headless Service of
    ours, or the operator's own metrics Service."""

    applied: pulumi.Output[Any]
    monitor: pulumi.CustomResource | None
    job: str

    def __init__(self, name: str, args: KubeControllersMetricsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("calico-monitoring:index:KubeControllersMetrics", name, None, opts)
        plan = args.plan
        self.command = calicoctl_patch_command(
            f"{name}-calicoctl-patch", plan.calicoctl, args.target, self, args.calicoctl_patch
        )
        self.applied = self.command.applied
        ready: list[pulumi.Resource] = [self.command]
        if plan.patch is not None:
            patch_name = f"{name}-{plan.patch.resource}"
            manifest = plan.patch.manifest
            patch = k8s.apps.v1.DeploymentPatch(
                patch_name,
                metadata=manifest["metadata"],
                spec=manifest["spec"],
                opts=patch_options(patch_name, plan.patch, self, args.give_back),
            )
            ready.append(patch)
            # Independent of the patch: a read that waits for a resource the preview would create yields nothing.
            deployment = plan.patch.object
            live = k8s.apps.v1.Deployment.get(
                f"{name}-live-deployment",
                f"{deployment.namespace}/{deployment.name}",
                opts=pulumi.ResourceOptions(parent=self),
            )
            warn_of_restarts("kube-controllers", plan.patch, patch, live.spec)
        self.monitor = scrape_component(name, plan.scrape, parent=self, depends_on=ready)
        self.job = plan.job
        self.register_outputs({"applied": self.applied, "job": self.job})
