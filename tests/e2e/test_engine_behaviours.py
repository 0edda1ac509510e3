"""What only a real engine shows: replacements, connection changes, code changes, drift."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.e2e.test_manifest_install import container, example_config, without_bookkeeping

pytestmark = pytest.mark.e2e


def metrics_port_entries(cluster) -> list[int]:
    node = cluster.get("daemonset", "calico-node", "kube-system")
    return [p["containerPort"] for p in container(node, "calico-node").get("ports") or []]


def urn_of(stack, type_suffix: str) -> str:
    resources = json.loads(stack.export())["deployment"]["resources"]
    [urn] = [r["urn"] for r in resources if r["type"].endswith(type_suffix)]
    return urn


def test_replacing_a_patch_keeps_what_it_applied(make_cluster, make_stack):
    cluster = make_cluster()
    stack = make_stack(cluster, example_config("example-kdd"))
    stack.up()
    assert metrics_port_entries(cluster) == [9091]
    stack.up("--replace", urn_of(stack, "DaemonSetPatch"))
    assert metrics_port_entries(cluster) == [9091]
    stack.preview("--expect-no-changes")
    stack.destroy()
    assert metrics_port_entries(cluster) == []


def test_a_new_kubeconfig_is_an_update_without_a_restore(make_cluster, make_stack):
    cluster = make_cluster()
    stack = make_stack(cluster, example_config("example-kdd"))
    stack.up()
    moved = cluster.folder / "rotated-kubeconfig"
    shutil.copy(cluster.kubeconfig, moved)
    stack.config_set("kubernetes:kubeconfig", str(moved))
    cluster.kubeconfig.rename(cluster.folder / "old-kubeconfig-gone")
    cluster.kubeconfig = moved
    stack.env["KUBECONFIG"] = str(moved)
    result = stack.up()
    assert "calico-monitoring-felix-calicoctl-patch" in result.stdout  # updated in place
    assert "replac" not in result.stdout.lower()
    felix = cluster.calico_resource("felixConfiguration")
    assert felix["spec"]["prometheusMetricsEnabled"] is True
    stack.destroy()
    assert cluster.calico_resource("felixConfiguration")["spec"].get("prometheusMetricsEnabled") is None


def test_editing_the_programs_helper_code_changes_nothing_in_the_cluster(make_cluster, make_stack):
    cluster = make_cluster()
    stack = make_stack(cluster, example_config("example-kdd"))
    stack.up()
    for module in ("provider.py", "helper.py", "scripts.py", "command.py"):
        path = stack.project / "calicoctl" / module
        path.write_text(path.read_text() + "\n# a maintainer's edit\n")
    stack.preview("--expect-no-changes")
    stack.destroy()


def test_drift_shows_in_preview_and_up_repairs_it(make_cluster, make_stack):
    cluster = make_cluster()
    before = cluster.calico_resource("felixConfiguration")
    stack = make_stack(cluster, example_config("example-kdd"))
    stack.up()
    cluster.calicoctl(
        "patch", "felixConfiguration", "default", "--patch", '{"spec":{"prometheusMetricsEnabled":false}}'
    )
    drifted = stack.preview("--expect-no-changes", check=False)
    assert drifted.returncode != 0
    assert "calico-monitoring-felix-calicoctl-patch" in drifted.stdout
    stack.up()
    assert cluster.calico_resource("felixConfiguration")["spec"]["prometheusMetricsEnabled"] is True
    stack.preview("--expect-no-changes")
    stack.destroy()
    after = cluster.calico_resource("felixConfiguration")
    assert without_bookkeeping(after)["spec"] == without_bookkeeping(before)["spec"]


def test_delete_unreachable_lets_destroy_finish_after_the_cluster_is_gone(make_cluster, make_stack):
    cluster = make_cluster()
    stack = make_stack(cluster, example_config("example-kdd"))
    stack.up()
    cluster.api.stop()
    stuck = stack.destroy(check=False)
    assert stuck.returncode != 0  # without the escape hatch, an unreachable cluster stops the destroy
    stack.env["PULUMI_K8S_DELETE_UNREACHABLE"] = "true"
    stack.destroy()
    resources = json.loads(stack.export())["deployment"].get("resources") or []
    assert [r["type"] for r in resources if not r["type"].startswith("pulumi:")] == []


def test_a_dashboard_edit_updates_its_configmap_in_place(make_cluster, make_stack):
    cluster = make_cluster()
    stack = make_stack(cluster, example_config("example-kdd"))
    stack.up()
    names = cluster.kubectl("get", "configmap", "-n", "monitoring", "-l", "grafana_dashboard=1", "-o", "name").split()
    uids = {name: cluster.get(*name.split("/"), namespace="monitoring")["metadata"]["uid"] for name in names}
    felix = stack.project / "dashboards" / "felix.json"
    dashboard = json.loads(felix.read_text())
    dashboard["description"] = "Edited by the e2e suite"
    felix.write_text(json.dumps(dashboard, indent=2))
    result = stack.up()
    assert "replace" not in result.stdout.lower()
    after = {name: cluster.get(*name.split("/"), namespace="monitoring") for name in names}
    assert {name: cm["metadata"]["uid"] for name, cm in after.items()} == uids
    assert any("Edited by the e2e suite" in json.dumps(cm["data"]) for cm in after.values())
    stack.destroy()


def stack_resource_types(stack) -> list[str]:
    resources = json.loads(stack.export())["deployment"].get("resources") or []
    return [r["type"] for r in resources if not r["type"].startswith("pulumi:")]


def patch_managers(cluster, kind: str, name: str, namespace: str) -> list[str]:
    """The pulumi-kubernetes field managers of an object (kubectl shows managedFields only when asked)."""
    shown = cluster.kubectl("get", kind, name, "-n", namespace, "-o", "json", "--show-managed-fields")
    entries = json.loads(shown)["metadata"].get("managedFields") or []
    return sorted({entry["manager"] for entry in entries if entry["manager"].startswith("pulumi-kubernetes")})


def test_destroy_after_calico_node_was_deleted_finishes(make_cluster, make_stack):
    cluster = make_cluster()
    stack = make_stack(cluster, example_config("example-kdd"))
    before = cluster.calico_resource("felixConfiguration")
    stack.up()
    assert patch_managers(cluster, "daemonset", "calico-node", "kube-system")  # the patch's own manager
    cluster.kubectl("delete", "daemonset", "calico-node", "-n", "kube-system", "--wait=true")
    # pulumi-kubernetes would give the fields back with an apply of a DaemonSet without a spec, which fails with
    # "this Patch resource is currently managing a required field" and stops the destroy; the patch's
    # PatchRelease finds calico-node gone instead.
    result = stack.destroy()
    assert "DaemonSet kube-system/calico-node no longer exists" in result.stdout
    assert stack_resource_types(stack) == []
    assert cluster.get("daemonset", "calico-node", "kube-system") is None
    after = cluster.calico_resource("felixConfiguration")
    assert without_bookkeeping(after)["spec"] == without_bookkeeping(before)["spec"]


def test_after_the_installation_was_deleted_nothing_recreates_it(make_cluster, make_stack):
    from tests.e2e.test_stacks import install_operator_crds

    cluster = make_cluster()
    install_operator_crds(cluster)
    cluster.kubectl("create", "namespace", "calico-system")
    installation = {"apiVersion": "operator.tigera.io/v1", "kind": "Installation", "metadata": {"name": "default"}}
    stack = make_stack(cluster, example_config("example-operator"))

    def install_and_up() -> None:
        cluster.kubectl("apply", "-f", "-", input=json.dumps({**installation, "spec": {"variant": "Calico"}}))
        stack.up()
        assert cluster.get("installation", "default")["spec"]["typhaMetricsPort"] == 9093
        cluster.kubectl("delete", "installation", "default", "--wait=true")

    install_and_up()
    # pulumi-kubernetes would give typhaMetricsPort back with an apply that creates Installation default, empty,
    # which a running operator installs Calico from; the patch's PatchRelease finds it gone instead.
    result = stack.destroy()
    assert "Installation default no longer exists" in result.stdout
    assert cluster.get("installation", "default") is None
    assert stack_resource_types(stack) == []

    install_and_up()
    # A refresh drops the InstallationPatch from the state, and applying it again would create the Installation:
    # the missing prerequisite stops the run before anything is applied.
    stopped = stack.up("--refresh", check=False)
    assert stopped.returncode != 0
    assert "calico-monitoring-prerequisites-tigera-operator-installation-default" in stopped.stdout
    assert cluster.get("installation", "default") is None
    stack.destroy()
    assert cluster.get("installation", "default") is None
    assert stack_resource_types(stack) == []
