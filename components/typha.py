"""TyphaMetrics: Typha's metrics on (port 9093 by default) and scraped."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from builders.manifests import align_with_live
from builders.plan import INSTALLATION, ComponentPlan
from builders.sdk_values import plain
from components.monitors import custom_resource, scrape_component
from components.patches import PatchGiveBack, patch_options
from components.restart_warning import warn_of_restarts


@dataclass(frozen=True)
class TyphaMetricsArgs:
    plan: ComponentPlan  # the plan's Typha: the Installation or Deployment patch, and the monitor
    give_back: PatchGiveBack | None = None


class TyphaMetrics(pulumi.ComponentResource):
    """manifest install: a patch of the calico-typha Deployment sets TYPHA_PROMETHEUSMETRICSENABLED
    and the port (one Typha rollout), then a PodMonitor, or a Service and ServiceMonitor.
    operator install: `typhaMetricsPort` on the Installation; the operator configures Typha and
    creates the `calico-typha-metrics` Service, which a ServiceMonitor selects."""

    monitor: pulumi.CustomResource | None
    job: str

    def __init__(self, name: str, args: TyphaMetricsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("calico-monitoring:index:TyphaMetrics", name, None, opts)
        planned = args.plan.patch
        assert planned is not None  # Typha's metrics are always turned on by a patch
        patch_name = f"{name}-{planned.resource}"
        if planned.target == INSTALLATION:
            self.enable = custom_resource(
                patch_name,
                planned.manifest,
                self,
                patch=True,
                options=patch_options(patch_name, planned, self, args.give_back),
            )
        else:
            manifest = planned.manifest
            deployment = planned.object
            # calico-typha already has env and ports entries: the patch lists them before ours.
            live = k8s.apps.v1.Deployment.get(
                f"{name}-live-deployment",
                f"{deployment.namespace}/{deployment.name}",
                opts=pulumi.ResourceOptions(parent=self),
            )
            spec = live.spec.apply(lambda current: align_with_live(manifest, plain(current)))
            self.enable = k8s.apps.v1.DeploymentPatch(
                patch_name,
                metadata=manifest["metadata"],
                spec=spec,
                opts=patch_options(patch_name, planned, self, args.give_back),
            )
            warn_of_restarts("typha", planned, self.enable, live.spec)
        self.monitor = scrape_component(name, args.plan.scrape, parent=self, depends_on=[self.enable])
        self.job = args.plan.job
        self.register_outputs({"job": self.job})
