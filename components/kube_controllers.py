"""KubeControllersMetrics: calico-kube-controllers' metrics (port 9094 by default) on and scraped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from builders.manifests import kube_controllers_port_patch
from calicoctl.command import CalicoctlTarget, calicoctl_patch_command
from components.monitors import WorkloadScrape, scrape_workload
from components.patches import DEPLOYMENT, PatchGiveBack, patch_options
from configuration import WorkloadSettings


@dataclass(frozen=True)
class KubeControllersMetricsArgs:
    kube_controllers: WorkloadSettings
    target: CalicoctlTarget
    scrape: WorkloadScrape
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
        workload = args.kube_controllers
        patch = {"spec": {"prometheusMetricsPort": workload.metrics_port}}
        self.command = calicoctl_patch_command(
            f"{name}-calicoctl-patch", "kubeControllersConfiguration", patch, args.target, self
        )
        self.applied = self.command.applied
        ready: list[pulumi.Resource] = [self.command]
        if args.scrape.declare_port:
            manifest = kube_controllers_port_patch(workload)
            ready.append(
                k8s.apps.v1.DeploymentPatch(
                    f"{name}-deployment-patch",
                    metadata=manifest["metadata"],
                    spec=manifest["spec"],
                    opts=patch_options(
                        f"{name}-deployment-patch", DEPLOYMENT, manifest["metadata"], self, args.give_back
                    ),
                )
            )
        # ipam_* series carry their own `node` label.
        self.monitor = scrape_workload(name, args.scrape, workload, node_label=False, parent=self, depends_on=ready)
        self.job = args.scrape.job
        self.register_outputs({"applied": self.applied, "job": self.job})
