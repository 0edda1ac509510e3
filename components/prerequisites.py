"""ClusterPrerequisites: what a stack needs to find in the cluster, read during `pulumi preview`.

Reads without dependencies run in preview too, so a cluster without prometheus-operator's
CRDs, or without the Calico workload this program patches, fails the preview naming the
missing object, instead of an all-green preview and a failing `up`. Not used in render mode,
which talks to no cluster.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from configuration import Settings

MONITORING_GROUP = "monitoring.coreos.com"


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
    def __init__(self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None) -> None:
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
        self.register_outputs({})
