"""FelixMetrics: Felix's Prometheus metrics turned on with calicoctl, the port declared on
calico-node (or a Service in front of it), and the monitor that scrapes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from builders.manifests import calico_node_port_patch, felix_pod_monitor, felix_service_scrape, rollout_status
from builders.sdk_values import plain
from builders.urns import child_urn
from calicoctl.command import CalicoctlTarget, calicoctl_patch_command
from calicoctl.scripts import felix_patch
from components.monitors import custom_resource, service_scrape_resources
from configuration import CalicoNodeSettings, FelixSettings, PodMonitorSettings

# Components that earlier releases put between the root and Felix's Kubernetes resources.
CALICO_NODE_METRICS_PORT_TYPE = "calico-monitoring:index:CalicoNodeMetricsPort"
FELIX_POD_MONITOR_TYPE = "calico-monitoring:index:FelixPodMonitor"


@dataclass(frozen=True)
class FelixMetricsArgs:
    target: CalicoctlTarget
    felix: FelixSettings
    calico_node: CalicoNodeSettings
    pod_monitor: PodMonitorSettings
    # True: declare the port on the calico-node DaemonSet and scrape with a PodMonitor (rolls
    # calico-node once). False: a headless Service and a ServiceMonitor (nothing restarts).
    declare_port: bool
    # The root component's URN, from which the names of earlier releases are built (aliases).
    upgrade_parent_urn: pulumi.Input[str]
    # The root component's name, which earlier releases used as the prefix of these resources.
    upgrade_prefix: str


class FelixMetrics(pulumi.ComponentResource):
    """`calicoctl patch felixConfiguration default` with metrics on (destroy puts the old values
    back), then the calico-node port or a Service, then the PodMonitor or ServiceMonitor."""

    applied: pulumi.Output[Any]
    rollout: pulumi.Output[Any] | None
    monitor: pulumi.CustomResource
    job: str

    def __init__(self, name: str, args: FelixMetricsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("calico-monitoring:index:FelixMetrics", name, None, opts)
        self.command = calicoctl_patch_command(
            f"{name}-calicoctl-patch", "felixConfiguration", felix_patch(args.felix), args.target, self
        )
        self.applied = self.command.applied
        self.job = args.pod_monitor.job
        self.rollout = None
        root = pulumi.Output.from_input(args.upgrade_parent_urn)
        prefix = args.upgrade_prefix

        def old(component_type: str, component: str, type_: str, resource: str) -> pulumi.Output[str]:
            return root.apply(lambda urn: child_urn(child_urn(urn, component_type, component), type_, resource))

        if args.declare_port:
            manifest = calico_node_port_patch(args.calico_node, args.felix.metrics_port)
            port = f"{prefix}-calico-node-port"
            self.port_patch = k8s.apps.v1.DaemonSetPatch(
                f"{name}-calico-node-port",
                metadata=manifest["metadata"],
                spec=manifest["spec"],
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[self.command],
                    aliases=[
                        old(
                            CALICO_NODE_METRICS_PORT_TYPE,
                            port,
                            "kubernetes:apps/v1:DaemonSetPatch",
                            f"{port}-daemonset-patch",
                        )
                    ],
                ),
            )
            # Read back after the patch on every run: the first `up` shows the rollout just started,
            # any later `up` (with nothing to change) where it stands.
            live = k8s.apps.v1.DaemonSet.get(
                f"{name}-calico-node",
                f"{args.calico_node.namespace}/{args.calico_node.daemon_set}",
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.port_patch]),
            )
            self.rollout = pulumi.Output.all(live.metadata, live.status).apply(
                lambda parts: rollout_status(plain(parts[0]), plain(parts[1]))
            )
            monitor = f"{prefix}-felix-podmonitor"
            self.monitor = custom_resource(
                f"{name}-podmonitor",
                felix_pod_monitor(args.pod_monitor, args.calico_node),
                self,
                [self.port_patch],
                aliases=[
                    old(
                        FELIX_POD_MONITOR_TYPE,
                        monitor,
                        "kubernetes:monitoring.coreos.com/v1:PodMonitor",
                        f"{monitor}-podmonitor",
                    )
                ],
            )
        else:
            service, monitor_manifest = felix_service_scrape(
                args.pod_monitor, args.calico_node, args.felix.metrics_port
            )
            self.service, self.monitor = service_scrape_resources(
                name, service, monitor_manifest, self, [self.command], legacy_parent_urn=root
            )
        outputs: dict[str, Any] = {"applied": self.applied, "job": self.job}
        if self.rollout is not None:
            outputs["rollout"] = self.rollout
        self.register_outputs(outputs)
