"""CalicoNodeMetricsPort: declares Felix's metrics port on the calico-node DaemonSet."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.manifests import calico_node_port_patch
from components.settings import CalicoNodeSettings


@dataclass(frozen=True)
class CalicoNodeMetricsPortArgs:
    calico_node: CalicoNodeSettings
    metrics_port: int


class CalicoNodeMetricsPort(pulumi.ComponentResource):
    """A server-side-apply patch of a DaemonSet this program does not own (rolls calico-node once)."""

    def __init__(self, name: str, args: CalicoNodeMetricsPortArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("calico-monitoring:index:CalicoNodeMetricsPort", name, None, opts)
        manifest = calico_node_port_patch(args.calico_node, args.metrics_port)
        self.patch = k8s.apps.v1.DaemonSetPatch(
            f"{name}-daemonset-patch",
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"daemonSet": self.patch.metadata.apply(lambda m: m.get("name") if m else None)})
