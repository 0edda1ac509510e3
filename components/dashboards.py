"""CalicoDashboards: Grafana dashboards as ConfigMaps that Grafana's sidecar loads.

The ConfigMaps themselves are built by ``dashboards.configmaps`` (the shipped dashboards get
the stack's scrape jobs and datasource; imported ones are pointed at the datasource the same
way, so no panel says "datasource not found").
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s


class CalicoDashboards(pulumi.ComponentResource):
    def __init__(self, name: str, manifests: list[dict[str, Any]], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("calico-monitoring:index:CalicoDashboards", name, None, opts)
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
