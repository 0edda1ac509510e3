"""What scrapes a Calico part: PodMonitors, and ServiceMonitors with the Service they select."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from builders.plan import ScrapePlan
from builders.urns import child_urn

METRICS_SERVICE_MONITOR_TYPE = "calico-monitoring:index:MetricsServiceMonitor"
SERVICE_TYPE = "kubernetes:core/v1:Service"
SERVICE_MONITOR_TYPE = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"


def custom_resource(
    name: str,
    manifest: dict[str, Any],
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
    *,
    patch: bool = False,
    aliases: Sequence[pulumi.Input[str]] = (),
    options: pulumi.ResourceOptions | None = None,
) -> pulumi.CustomResource:
    """A custom resource from its manifest; with ``patch``, a server-side-apply patch of one we do not own."""
    resource_class = k8s.apiextensions.CustomResourcePatch if patch else k8s.apiextensions.CustomResource
    own = pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on), aliases=list(aliases))
    return resource_class(
        name,
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        metadata=manifest["metadata"],
        spec=manifest["spec"],
        opts=pulumi.ResourceOptions.merge(own, options),
    )


def with_alias(opts: pulumi.ResourceOptions | None, old: pulumi.Output[str] | None) -> pulumi.ResourceOptions:
    """``opts`` plus the URN the component had in an earlier release, if it had one."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[old] if old is not None else []))


def old_children(old: pulumi.Output[str] | None, type_: str, suffix: str) -> list[pulumi.Output[str]]:
    """The earlier URN of the child ``<old component's name>-<suffix>`` of type ``type_``."""
    if old is None:
        return []
    return [old.apply(lambda urn: child_urn(urn, type_, f"{urn.rsplit('::', 1)[1]}-{suffix}"))]


@dataclass(frozen=True)
class MetricsServiceMonitorArgs:
    monitor: dict[str, Any]
    service: dict[str, Any] | None = None
    # This component's URN in an earlier release, when it has moved since (its children follow it).
    old_urn: pulumi.Output[str] | None = None


class MetricsServiceMonitor(pulumi.ComponentResource):
    """A ServiceMonitor, and the headless Service it selects when Calico brings none."""

    service: k8s.core.v1.Service | None
    service_monitor: pulumi.CustomResource

    def __init__(
        self,
        name: str,
        args: MetricsServiceMonitorArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(METRICS_SERVICE_MONITOR_TYPE, name, None, with_alias(opts, args.old_urn))
        self.service = None
        if args.service is not None:
            self.service = k8s.core.v1.Service(
                f"{name}-service",
                metadata=args.service["metadata"],
                spec=args.service["spec"],
                opts=pulumi.ResourceOptions(parent=self, aliases=old_children(args.old_urn, SERVICE_TYPE, "service")),
            )
        self.service_monitor = custom_resource(
            f"{name}-servicemonitor",
            args.monitor,
            self,
            [self.service] if self.service is not None else [],
            aliases=old_children(args.old_urn, SERVICE_MONITOR_TYPE, "servicemonitor"),
        )
        self.register_outputs({})


def scrape_component(
    name: str,
    scrape: ScrapePlan | None,
    *,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
) -> pulumi.CustomResource | None:
    """The monitor of a Deployment as the plan has it (a PodMonitor, or a ServiceMonitor and the Service of
    ours it selects); none when the stack turned it off."""
    if scrape is None:
        return None
    if scrape.monitor["kind"] == "PodMonitor":
        return custom_resource(f"{name}-podmonitor", scrape.monitor, parent, depends_on)
    scrape_component = MetricsServiceMonitor(
        f"{name}-monitor",
        MetricsServiceMonitorArgs(monitor=scrape.monitor, service=scrape.service),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
    return scrape_component.service_monitor
