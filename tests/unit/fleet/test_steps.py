"""What fleet reads from the engine's step events: the operation, the object in the cluster's terms, the fields."""

from pulumi.automation.events import StepEventMetadata

from fleet.steps import differing_paths, kubernetes_kind, step_from

ROOT = "urn:pulumi:prod::calico-monitoring::calico-monitoring:index:CalicoMonitoring$"
FELIX_PATCH_URN = (
    ROOT + "calico-monitoring:index:FelixMetrics$pulumi-python:dynamic/calico-monitoring:CalicoctlPatch::"
    "calico-monitoring-felix-calicoctl-patch"
)
POD_MONITOR_URN = ROOT + "kubernetes:monitoring.coreos.com/v1:PodMonitor::calico-monitoring-felix-monitor-podmonitor"
DAEMONSET_PATCH_URN = (
    ROOT + "kubernetes:apps/v1:DaemonSetPatch::calico-monitoring-felix-calico-node-port-daemonset-patch"
)


def state(type_, urn, inputs=None, outputs=None):
    return {"type": type_, "urn": urn, "id": "x", "parent": "", "provider": "", "inputs": inputs, "outputs": outputs}


def metadata(op, type_, urn, old=None, new=None, **extra):
    document = {"op": op, "urn": urn, "type": type_, "provider": ""}
    if old is not None:
        document["old"] = state(type_, urn, **old)
    if new is not None:
        document["new"] = state(type_, urn, **new)
    return StepEventMetadata.from_json({**document, **extra})


def felix_patch_props(enabled):
    inputs = {
        "kind": "felixConfiguration",
        "resourceName": "default",
        "patch": {"spec": {"prometheusMetricsEnabled": True, "prometheusMetricsPort": 9091}},
        "connection": "[secret]",
    }
    applied = {"spec": {"prometheusMetricsEnabled": enabled, "prometheusMetricsPort": 9091}}
    return {"inputs": inputs, "outputs": {**inputs, "applied": applied, "originals": {}}}


def test_a_calicoctl_patch_turned_back_by_hand_names_its_configuration_and_the_fields_read_back():
    step = step_from(
        metadata(
            "update",
            "pulumi-python:dynamic/calico-monitoring:CalicoctlPatch",
            FELIX_PATCH_URN,
            old=felix_patch_props(True),
            new=felix_patch_props(False),
        )
    )
    assert (step.op, step.what, step.fields, step.patched) == (
        "update",
        "FelixConfiguration default",
        ("spec.prometheusMetricsEnabled",),
        None,
    )
    assert step.changes


def test_a_calicoctl_patch_whose_inputs_change_names_the_inputs():
    old = felix_patch_props(True)
    new = {
        "inputs": {
            **old["inputs"],
            "patch": {"spec": {"prometheusMetricsEnabled": True, "prometheusMetricsPort": 9095}},
        }
    }
    step = step_from(
        metadata("update", "pulumi-python:dynamic/calico-monitoring:CalicoctlPatch", FELIX_PATCH_URN, old=old, new=new)
    )
    assert step.fields == ("patch.spec.prometheusMetricsPort",)


def test_a_deleted_monitor_is_named_by_kind_namespace_and_name():
    outputs = {"apiVersion": "monitoring.coreos.com/v1", "metadata": {"name": "felix", "namespace": "monitoring"}}
    step = step_from(
        metadata("delete", "kubernetes:monitoring.coreos.com/v1:PodMonitor", POD_MONITOR_URN, old={"outputs": outputs})
    )
    assert (step.op, step.what, step.fields, step.patched) == ("delete", "PodMonitor monitoring/felix", (), None)


def test_a_patch_resource_names_the_object_it_patches_and_the_engines_detailed_diff():
    inputs = {"metadata": {"name": "calico-node", "namespace": "kube-system"}, "spec": {}}
    step = step_from(
        metadata(
            "update",
            "kubernetes:apps/v1:DaemonSetPatch",
            DAEMONSET_PATCH_URN,
            old={"inputs": inputs},
            new={"inputs": inputs},
            diffs=["spec"],
            detailedDiff={
                "spec.template.spec.containers[0].ports[0].containerPort": {"diffKind": "update", "inputDiff": True}
            },
        )
    )
    assert step.what == "DaemonSet kube-system/calico-node"
    assert step.patched == ("DaemonSet", "kube-system", "calico-node")
    assert step.fields == ("spec.template.spec.containers[0].ports[0].containerPort",)


def test_a_resource_without_kubernetes_metadata_keeps_its_name_and_a_same_step_changes_nothing():
    urn = ROOT + "kubernetes:helm.sh/v4:Chart::calico-monitoring-prerequisites-preflight"
    step = step_from(metadata("same", "kubernetes:helm.sh/v4:Chart", urn, old={}, new={}))
    assert (step.what, step.changes) == ("calico-monitoring-prerequisites-preflight", False)


def test_kubernetes_kinds_and_patches():
    assert kubernetes_kind("kubernetes:apps/v1:DaemonSetPatch") == ("DaemonSet", True)
    assert kubernetes_kind("kubernetes:operator.tigera.io/v1:InstallationPatch") == ("Installation", True)
    assert kubernetes_kind("kubernetes:core/v1:Service") == ("Service", False)
    assert kubernetes_kind("pulumi:providers:kubernetes") is None
    assert kubernetes_kind("pulumi-python:dynamic/calico-monitoring:PatchRelease") is None


def test_differing_paths_walks_objects_and_lists_of_the_same_length():
    old = {"a": {"b": 1, "c": [1, {"d": 2}]}, "e": "x", "gone": 1}
    new = {"a": {"b": 2, "c": [1, {"d": 3}]}, "e": "x", "added": 1}
    assert differing_paths(old, new) == ["a.b", "a.c[1].d", "added", "gone"]
    assert differing_paths({"l": [1, 2]}, {"l": [1]}) == ["l"]
    assert differing_paths({"a": 1}, {"a": 1}) == []
