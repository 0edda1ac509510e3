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
from components.monitors import (
    METRICS_SERVICE_MONITOR_TYPE,
    MetricsServiceMonitor,
    MetricsServiceMonitorArgs,
    custom_resource,
    old_children,
    with_alias,
)
from components.patches import DAEMON_SET, PatchGiveBack, patch_options
from configuration import CalicoNodeSettings, FelixSettings, PodMonitorSettings

CALICO_NODE_METRICS_PORT_TYPE = "calico-monitoring:index:CalicoNodeMetricsPort"
FELIX_POD_MONITOR_TYPE = "calico-monitoring:index:FelixPodMonitor"
DAEMONSET_PATCH_TYPE = "kubernetes:apps/v1:DaemonSetPatch"
POD_MONITOR_TYPE = "kubernetes:monitoring.coreos.com/v1:PodMonitor"


@dataclass(frozen=True)
class UpgradeFrom:
    """Where release 0.2 registered Felix's parts: directly under the root component."""

    root_urn: pulumi.Input[str]
    root_name: str

    def component(self, type_: str, suffix: str) -> pulumi.Output[str]:
        return pulumi.Output.from_input(self.root_urn).apply(
            lambda urn: child_urn(urn, type_, f"{self.root_name}-{suffix}")
        )


@dataclass(frozen=True)
class CalicoNodeMetricsPortArgs:
    calico_node: CalicoNodeSettings
    metrics_port: int
    upgrade_from: UpgradeFrom | None = None
    give_back: PatchGiveBack | None = None


class CalicoNodeMetricsPort(pulumi.ComponentResource):
    """Declares Felix's metrics port on the calico-node DaemonSet (rolls every calico-node pod once)."""

    rollout: pulumi.Output[Any]

    def __init__(self, name: str, args: CalicoNodeMetricsPortArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        old = (
            args.upgrade_from.component(CALICO_NODE_METRICS_PORT_TYPE, "calico-node-port")
            if args.upgrade_from
            else None
        )
        super().__init__(CALICO_NODE_METRICS_PORT_TYPE, name, None, with_alias(opts, old))
        manifest = calico_node_port_patch(args.calico_node, args.metrics_port)
        patch_aliases = old_children(old, DAEMONSET_PATCH_TYPE, "daemonset-patch")
        self.patch = k8s.apps.v1.DaemonSetPatch(
            f"{name}-daemonset-patch",
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            opts=patch_options(
                f"{name}-daemonset-patch", DAEMON_SET, manifest["metadata"], self, args.give_back, patch_aliases
            ),
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


@dataclass(frozen=True)
class FelixPodMonitorArgs:
    pod_monitor: PodMonitorSettings
    calico_node: CalicoNodeSettings
    upgrade_from: UpgradeFrom | None = None


class FelixPodMonitor(pulumi.ComponentResource):
    """The tutorial's PodMonitor for Felix on every calico-node pod."""

    pod_monitor: pulumi.CustomResource

    def __init__(self, name: str, args: FelixPodMonitorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Release 0.2 named it <root>-felix-podmonitor, and its PodMonitor <root>-felix-podmonitor-podmonitor.
        old = args.upgrade_from.component(FELIX_POD_MONITOR_TYPE, "felix-podmonitor") if args.upgrade_from else None
        super().__init__(FELIX_POD_MONITOR_TYPE, name, None, with_alias(opts, old))
        monitor_aliases = old_children(old, POD_MONITOR_TYPE, "podmonitor")
        self.pod_monitor = custom_resource(
            f"{name}-podmonitor",
            felix_pod_monitor(args.pod_monitor, args.calico_node),
            self,
            aliases=monitor_aliases,
        )
        self.register_outputs({})


@dataclass(frozen=True)
class FelixMetricsArgs:
    target: CalicoctlTarget
    felix: FelixSettings
    calico_node: CalicoNodeSettings
    pod_monitor: PodMonitorSettings
    # True: declare the port on the calico-node DaemonSet and scrape with a PodMonitor (rolls
    # calico-node once). False: a headless Service and a ServiceMonitor (nothing restarts).
    declare_port: bool
    upgrade_from: UpgradeFrom | None = None
    # False (felix.monitor.enabled): metrics on, and the port declared, but no monitor of ours.
    monitor: bool = True
    give_back: PatchGiveBack | None = None


class FelixMetrics(pulumi.ComponentResource):
    """`calicoctl patch felixConfiguration default` with metrics on (destroy puts the old values
    back), then the calico-node port or a Service, then the PodMonitor or ServiceMonitor."""

    applied: pulumi.Output[Any]
    rollout: pulumi.Output[Any] | None
    monitor: pulumi.CustomResource | None
    job: str

    def __init__(self, name: str, args: FelixMetricsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("calico-monitoring:index:FelixMetrics", name, None, opts)
        self.command = calicoctl_patch_command(
            f"{name}-calicoctl-patch", "felixConfiguration", felix_patch(args.felix), args.target, self
        )
        self.applied = self.command.applied
        self.job = args.pod_monitor.job
        self.rollout = None
        self.monitor = None
        if args.declare_port:
            port = CalicoNodeMetricsPort(
                f"{name}-calico-node-port",
                CalicoNodeMetricsPortArgs(args.calico_node, args.felix.metrics_port, args.upgrade_from, args.give_back),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.command]),
            )
            self.rollout = port.rollout
            if args.monitor:
                self.monitor = FelixPodMonitor(
                    f"{name}-monitor",
                    FelixPodMonitorArgs(args.pod_monitor, args.calico_node, args.upgrade_from),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[port]),
                ).pod_monitor
        elif args.monitor:
            service, monitor = felix_service_scrape(args.pod_monitor, args.calico_node, args.felix.metrics_port)
            # Release 0.2 had it as <root>-felix-monitor under the root: the same name, now under Felix.
            old = (
                args.upgrade_from.component(METRICS_SERVICE_MONITOR_TYPE, "felix-monitor")
                if args.upgrade_from
                else None
            )
            self.monitor = MetricsServiceMonitor(
                f"{name}-monitor",
                MetricsServiceMonitorArgs(monitor=monitor, service=service, old_urn=old),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.command]),
            ).service_monitor
        outputs: dict[str, Any] = {"applied": self.applied, "job": self.job}
        if self.rollout is not None:
            outputs["rollout"] = self.rollout
        self.register_outputs(outputs)
