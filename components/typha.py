"""TyphaMetrics: Typha's metrics on (port 9093 by default) and scraped."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from builders.manifests import align_with_live, installation_typha_patch, typha_patch
from builders.sdk_values import plain
from components.monitors import WorkloadScrape, custom_resource, scrape_workload
from components.patches import DEPLOYMENT, INSTALLATION, PatchGiveBack, patch_options
from configuration import WorkloadSettings


@dataclass(frozen=True)
class TyphaMetricsArgs:
    typha: WorkloadSettings
    scrape: WorkloadScrape
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
        typha = args.typha
        if args.scrape.install == "operator":
            manifest = installation_typha_patch(typha.metrics_port)
            self.enable = custom_resource(
                f"{name}-installation-patch",
                manifest,
                self,
                patch=True,
                options=patch_options(
                    f"{name}-installation-patch", INSTALLATION, manifest["metadata"], self, args.give_back
                ),
            )
        else:
            manifest = typha_patch(typha, declare_port=args.scrape.declare_port)
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
                opts=patch_options(f"{name}-deployment-patch", DEPLOYMENT, manifest["metadata"], self, args.give_back),
            )
        self.monitor = scrape_workload(name, args.scrape, typha, node_label=True, parent=self, depends_on=[self.enable])
        self.job = args.scrape.job
        self.register_outputs({"job": self.job})
