"""ClusterPrerequisites: what a stack needs to find in the cluster, read during `pulumi preview`.

Reads without dependencies run in preview too, so a cluster without prometheus-operator's
CRDs, or without the Calico workload this program patches, fails the preview naming the
missing object, instead of an all-green preview and a failing `up`. So does an object of a
name this stack creates that someone else made first (a hand-applied `felix` PodMonitor):
Helm's `lookup`, run by pulumi-kubernetes' Chart v4 with the provider's own connection, is the
one read that may find nothing without failing. The same chart lists the cluster's Prometheus objects
and fails the preview when none selects a monitor or the rule of this stack (prometheusSelection):
Prometheus would never use them, though `up` succeeds. A chart can only fail, not warn, so `warn`
reads nothing and warns with what a Prometheus must select. Not used in render mode, which talks to
no cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from builders.plan import SelectedObject, StackPlan
from components.restart_warning import warn_of_restarts

PREFLIGHT_CHART = Path(__file__).parent / "preflight-chart"

# The Prometheus spec fields that select objects of each kind, and their namespaces (prometheus-operator).
PROMETHEUS_SELECTORS = {
    "PodMonitor": ("podMonitorSelector", "podMonitorNamespaceSelector"),
    "ServiceMonitor": ("serviceMonitorSelector", "serviceMonitorNamespaceSelector"),
    "PrometheusRule": ("ruleSelector", "ruleNamespaceSelector"),
}


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


def selection_check(selected: SelectedObject) -> dict[str, Any]:
    """What the preflight chart needs to decide whether a Prometheus selects one monitor or the rule."""
    metadata = selected.manifest["metadata"]
    kind = selected.manifest["kind"]
    selector, namespace_selector = PROMETHEUS_SELECTORS[kind]
    return {
        "kind": kind,
        "namespace": metadata["namespace"],
        "name": metadata["name"],
        "labels": dict(metadata.get("labels") or {}),
        "selector": selector,
        "namespaceSelector": namespace_selector,
        "labelsSetting": selected.labels_setting,
        "namespaceSetting": selected.namespace_setting,
    }


def preflight_values(plan: StackPlan) -> dict[str, Any]:
    """The preflight chart's values: the objects in the way it looks up, and, unless prometheusSelection says
    otherwise, the monitors and rule a Prometheus of the cluster must select."""
    values: dict[str, Any] = {"objects": objects_in_the_way_checks(plan)}
    if plan.prometheus_selection == "require":
        must_be_selected = [selection_check(selected) for selected in plan.used_by_prometheus()]
        if must_be_selected:
            values["mustBeSelected"] = must_be_selected
    return values


def selection_reminder(plan: StackPlan) -> str | None:
    """With prometheusSelection `warn`, the warning of every run: what a Prometheus must select, unchecked."""
    if plan.prometheus_selection != "warn":
        return None
    lines = []
    for selected in plan.used_by_prometheus():
        check = selection_check(selected)
        labels = ",".join(f"{key}={value}" for key, value in sorted(check["labels"].items())) or "none"
        lines.append(
            f"- {check['kind']} {check['namespace']}/{check['name']} (labels {labels}): "
            f"{check['selector']}, {check['namespaceSelector']}"
        )
    if not lines:
        return None
    return (
        "calico-monitoring:prometheusSelection is warn, so the preview did not check that a Prometheus of the "
        "cluster selects these objects this stack creates; Prometheus uses one only if a Prometheus' selectors "
        "match its labels and its namespace:\n" + "\n".join(lines)
    )


def warn_before_restarts(
    plan: StackPlan,
    component: str,
    read: pulumi.Resource,
    spec: pulumi.Output[Any],
    status: pulumi.Output[Any] | None = None,
) -> None:
    """The preview's word on what the component's workload patch restarts, from the object this prerequisite
    read found. Read here, before and independent of the patch: a read that waits for a resource the preview
    would create yields nothing known."""
    component_plan = plan.component(component)
    if component_plan is not None and component_plan.patch is not None:
        warn_of_restarts(component, component_plan.patch, read, spec, status)


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
            # A plain CustomResource declaring `spec`, which the restart warning reads (k8s's get declares none).
            installation = pulumi.CustomResource(
                f"kubernetes:{required.api_version}:{required.kind}",
                f"{name}-tigera-operator-installation-{required.name}",
                {"spec": None},
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(id=required.name)),
            )
            self.reads.append(installation)
            warn_before_restarts(plan, "typha", installation, installation.spec)
        elif required is not None:
            calico_node = k8s.apps.v1.DaemonSet.get(
                f"{name}-calico-node", f"{required.namespace}/{required.name}", opts=child
            )
            self.reads.append(calico_node)
            warn_before_restarts(plan, "felix", calico_node, calico_node.spec, calico_node.status)
        values = preflight_values(plan)
        if values["objects"]:
            # After the CRD reads: Helm's lookup of a kind the API server does not serve is an error of its own.
            # Named for its first check: another name would be a new resource in every existing stack.
            self.reads.append(
                k8s.helm.v4.Chart(
                    f"{name}-objects-in-the-way",
                    chart=preflight_chart,
                    values=values,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=list(self.reads)),
                )
            )
        reminder = selection_reminder(plan)
        if reminder is not None:
            pulumi.log.warn(reminder, resource=self)
        self.register_outputs({})
