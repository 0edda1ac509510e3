"""FelixMetrics: Felix's Prometheus metrics turned on with calicoctl, the port declared on
calico-node (or a Service in front of it), and the monitor that scrapes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from builders.manifests import rollout_status
from builders.plan import ComponentPlan, ScrapePlan, WorkloadPatch
from builders.sdk_values import plain
from builders.urns import child_urn
from calicoctl.command import CalicoctlTarget, calicoctl_patch_command
from components.monitors import (
    METRICS_SERVICE_MONITOR_TYPE,
    MetricsServiceMonitor,
    MetricsServiceMonitorArgs,
    custom_resource,
    old_children,
    with_alias,
)
from components.patches import PatchGiveBack, patch_options

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
    patch: WorkloadPatch  # the plan's patch of the calico-node DaemonSet
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
        planned = args.patch
        patch_name = f"{name}-{planned.resource}"
        self.patch = k8s.apps.v1.DaemonSetPatch(
            patch_name,
            metadata=planned.manifest["metadata"],
            spec=planned.manifest["spec"],
            opts=patch_options(
                patch_name, planned, self, args.give_back, old_children(old, DAEMONSET_PATCH_TYPE, planned.resource)
            ),
        )
        # Read back after the patch on every run: the first `up` shows the rollout just started,
        # any later `up` (with nothing to change) where it stands.
        daemon_set = planned.object
        live = k8s.apps.v1.DaemonSet.get(
            f"{name}-daemonset",
            f"{daemon_set.namespace}/{daemon_set.name}",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.patch]),
        )
        self.rollout = pulumi.Output.all(live.metadata, live.status).apply(
            lambda parts: rollout_status(plain(parts[0]), plain(parts[1]))
        )
        self.register_outputs({"rollout": self.rollout})


@dataclass(frozen=True)
class FelixPodMonitorArgs:
    monitor: dict[str, Any]  # the plan's PodMonitor manifest
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
            args.monitor,
            self,
            aliases=monitor_aliases,
        )
        self.register_outputs({})


@dataclass(frozen=True)
class FelixMetricsArgs:
    target: CalicoctlTarget
    # The plan's Felix: its calicoctl patch; with a patch of calico-node, the port declared (rolls calico-node
    # once) and a PodMonitor; without, a headless Service and a ServiceMonitor (nothing restarts). No scrape
    # (felix.monitor.enabled false): metrics on, and the port declared, but no monitor of ours.
    plan: ComponentPlan
    calicoctl_patch: type[pulumi.CustomResource]
    upgrade_from: UpgradeFrom | None = None
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
        plan = args.plan
        self.command = calicoctl_patch_command(
            f"{name}-calicoctl-patch", plan.calicoctl, args.target, self, args.calicoctl_patch
        )
        self.applied = self.command.applied
        self.job = plan.job
        self.rollout = None
        self.monitor = None
        if plan.patch is not None:
            port = CalicoNodeMetricsPort(
                f"{name}-calico-node-port",
                CalicoNodeMetricsPortArgs(plan.patch, args.upgrade_from, args.give_back),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.command]),
            )
            self.rollout = port.rollout
            if plan.scrape is not None:
                self.monitor = FelixPodMonitor(
                    f"{name}-monitor",
                    FelixPodMonitorArgs(plan.scrape.monitor, args.upgrade_from),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[port]),
                ).pod_monitor
        elif plan.scrape is not None:
            self.monitor = self._service_monitor(name, plan.scrape, args.upgrade_from)
        outputs: dict[str, Any] = {"applied": self.applied, "job": self.job}
        if self.rollout is not None:
            outputs["rollout"] = self.rollout
        self.register_outputs(outputs)

    def _service_monitor(
        self, name: str, scrape: ScrapePlan, upgrade_from: UpgradeFrom | None
    ) -> pulumi.CustomResource:
        # Release 0.2 had it as <root>-felix-monitor under the root: the same name, now under Felix.
        old = upgrade_from.component(METRICS_SERVICE_MONITOR_TYPE, "felix-monitor") if upgrade_from else None
        return MetricsServiceMonitor(
            f"{name}-monitor",
            MetricsServiceMonitorArgs(monitor=scrape.monitor, service=scrape.service, old_urn=old),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.command]),
        ).service_monitor
