"""ClusterPrerequisites: what a stack needs to find in the cluster, read during `pulumi preview`.

Reads without dependencies run in preview too, so a cluster without prometheus-operator's
CRDs, or without the Calico workload this program patches, fails the preview naming the
missing object, instead of an all-green preview and a failing `up`. So does an object of a
name this stack creates that someone else made first (a hand-applied `felix` PodMonitor):
Helm's `lookup`, run by pulumi-kubernetes' Chart v4 with the provider's own connection, is the
one read that may find nothing without failing. Not used in render mode, which talks to no cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from builders.plan import StackPlan

PREFLIGHT_CHART = Path(__file__).parent / "preflight-chart"


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


def remedy(manifest: dict[str, Any], setting: str) -> str:
    """The end of the preflight message: the setting that gives this stack's object another name or place."""
    if not setting:
        return ""
    if setting == "dashboards.namespace":
        return ", or move the dashboards with calico-monitoring:dashboards.namespace"
    kind = manifest["kind"]
    return (
        f", or give this stack's {kind} another name with `pulumi config set --path calico-monitoring:{setting} <name>`"
    )


def objects_in_the_way_checks(plan: StackPlan) -> list[dict[str, str]]:
    """The preflight chart's lookups: every object of a fixed name the plan creates (patches of Calico's own
    objects aside), with the way out of a clash."""
    return [
        object_in_the_way_check(manifest, remedy(manifest, setting)) for manifest, setting in plan.objects_created()
    ]


class ClusterPrerequisites(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        plan: StackPlan,
        preflight_chart: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("calico-monitoring:index:ClusterPrerequisites", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.reads: list[pulumi.Resource] = [
            # The resource name says what to install when the read fails.
            k8s.apiextensions.v1.CustomResourceDefinition.get(f"{name}-prometheus-operator-crd-{crd}", crd, opts=child)
            for crd in plan.crds
        ]
        required = plan.required_object
        if required is not None and required.kind == "Installation":
            self.reads.append(
                k8s.apiextensions.CustomResource.get(
                    f"{name}-tigera-operator-installation-{required.name}",
                    api_version=required.api_version,
                    kind=required.kind,
                    id=required.name,
                    opts=child,
                )
            )
        elif required is not None:
            self.reads.append(
                k8s.apps.v1.DaemonSet.get(f"{name}-calico-node", f"{required.namespace}/{required.name}", opts=child)
            )
        created = objects_in_the_way_checks(plan)
        if created:
            # After the CRD reads: Helm's lookup of a kind the API server does not serve is an error of its own.
            self.reads.append(
                k8s.helm.v4.Chart(
                    f"{name}-objects-in-the-way",
                    chart=preflight_chart,
                    values={"objects": created},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=list(self.reads)),
                )
            )
        self.register_outputs({})
