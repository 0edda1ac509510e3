"""CalicoDashboards: Grafana dashboards as ConfigMaps that Grafana's sidecar loads.

The ConfigMaps themselves are built by ``dashboards.configmaps`` (the shipped dashboards get
the stack's scrape jobs and datasource; imported ones are pointed at the datasource the same
way, so no panel says "datasource not found").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class CalicoDashboardsArgs:
    configmaps: list[dict[str, Any]]  # the ConfigMap manifests (dashboards.configmaps)


class CalicoDashboards(pulumi.ComponentResource):
    """One ConfigMap per dashboard, with a stable name, for Grafana's sidecar."""

    config_maps: list[k8s.core.v1.ConfigMap]

    def __init__(self, name: str, args: CalicoDashboardsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("calico-monitoring:index:CalicoDashboards", name, None, opts)
        manifests = args.configmaps
        self.config_maps = [
            k8s.core.v1.ConfigMap(
                f"{name}-{manifest['metadata']['name'].removeprefix('calico-dashboard-')}",
                metadata=manifest["metadata"],
                data=manifest["data"],
                opts=pulumi.ResourceOptions(parent=self),
            )
            for manifest in manifests
        ]
        self.register_outputs({"configMaps": [m["metadata"]["name"] for m in manifests]})
