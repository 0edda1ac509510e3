"""ClusterPrerequisites: what a stack needs to find in the cluster, read during `pulumi preview`.

Reads without dependencies run in preview too, so a cluster without prometheus-operator's
CRDs, or without the Calico workload this program patches, fails the preview naming the
missing object, instead of an all-green preview and a failing `up`. So does an object of a
name this stack creates that someone else made first (a hand-applied `felix` PodMonitor):
Helm's `lookup`, run by pulumi-kubernetes' Chart v4 with the provider's own connection, is the
one read that may find nothing without failing. Not used in render mode, which talks to no cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from configuration import Settings

MONITORING_GROUP = "monitoring.coreos.com"
PREFLIGHT_CHART = Path(__file__).parent / "preflight-chart"
# The chart as the kubernetes provider finds it: from the project directory, where Pulumi starts the
# program and its plugins, so the stack's inputs hold no machine path. The component package, whose
# code is not in its consumer's project, sets its own (package/provider.py).
preflight_chart_reference = "components/preflight-chart"


def object_in_the_way_check(manifest: dict[str, Any], remedy: str) -> dict[str, str]:
    """What the preflight chart looks up for one object the stack creates; ``remedy`` ends its message."""
    metadata = manifest["metadata"]
    return {
        "apiVersion": manifest["apiVersion"],
        "kind": manifest["kind"],
        "namespace": metadata["namespace"],
        "name": metadata["name"],
        "remedy": remedy,
    }


def required_crds(settings: Settings) -> list[str]:
    kinds = set()
    if settings.declares_ports:
        kinds.add("podmonitors")
    if not settings.declares_ports or (settings.install == "operator" and settings.typha.enabled):
        kinds.add("servicemonitors")
    if settings.alerts.enabled or settings.dashboards.enabled:
        kinds.add("prometheusrules")
    return [f"{kind}.{MONITORING_GROUP}" for kind in sorted(kinds)]


class ClusterPrerequisites(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        settings: Settings,
        created: Sequence[dict[str, str]] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("calico-monitoring:index:ClusterPrerequisites", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.reads: list[pulumi.Resource] = [
            # The resource name says what to install when the read fails.
            k8s.apiextensions.v1.CustomResourceDefinition.get(f"{name}-prometheus-operator-crd-{crd}", crd, opts=child)
            for crd in required_crds(settings)
        ]
        if settings.install == "operator":
            self.reads.append(
                k8s.apiextensions.CustomResource.get(
                    f"{name}-tigera-operator-installation-default",
                    api_version="operator.tigera.io/v1",
                    kind="Installation",
                    id="default",
                    opts=child,
                )
            )
        elif settings.declares_ports:
            node = settings.calico_node
            self.reads.append(
                k8s.apps.v1.DaemonSet.get(f"{name}-calico-node", f"{node.namespace}/{node.daemon_set}", opts=child)
            )
        if created:
            # After the CRD reads: Helm's lookup of a kind the API server does not serve is an error of its own.
            self.reads.append(
                k8s.helm.v4.Chart(
                    f"{name}-objects-in-the-way",
                    chart=preflight_chart_reference,
                    values={"objects": list(created)},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=list(self.reads)),
                )
            )
        self.register_outputs({})
