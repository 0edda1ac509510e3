"""Server-side-apply patches of Calico workloads this program does not own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.manifests import calico_node_port_patch, rollout_status
from components.sdk_values import plain
from configuration import CalicoNodeSettings


@dataclass(frozen=True)
class CalicoNodeMetricsPortArgs:
    calico_node: CalicoNodeSettings
    metrics_port: int


class CalicoNodeMetricsPort(pulumi.ComponentResource):
    """Declares Felix's metrics port on the calico-node DaemonSet (rolls every calico-node pod once)."""

    def __init__(self, name: str, args: CalicoNodeMetricsPortArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("calico-monitoring:index:CalicoNodeMetricsPort", name, None, opts)
        manifest = calico_node_port_patch(args.calico_node, args.metrics_port)
        self.patch = k8s.apps.v1.DaemonSetPatch(
            f"{name}-daemonset-patch",
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Read back after the patch on every run: the first `up` shows the rollout just started,
        # any later `up` (with nothing to change) where it stands.
        live = k8s.apps.v1.DaemonSet.get(
            f"{name}-daemonset",
            f"{args.calico_node.namespace}/{args.calico_node.daemon_set}",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.patch]),
        )
        self.rollout = pulumi.Output.all(live.metadata, live.status).apply(
            lambda parts: rollout_status(plain(parts[0]), plain(parts[1]))
        )
        self.register_outputs({"rollout": self.rollout})


def deployment_patch(name: str, manifest: dict[str, Any], parent: pulumi.Resource) -> k8s.apps.v1.DeploymentPatch:
    return k8s.apps.v1.DeploymentPatch(
        name, metadata=manifest["metadata"], spec=manifest["spec"], opts=pulumi.ResourceOptions(parent=parent)
    )
