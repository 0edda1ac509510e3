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


def test_destroy_after_calico_node_was_deleted_finishes_with_refresh(make_cluster, make_stack):
    cluster = make_cluster()
    stack = make_stack(cluster, example_config("example-kdd"))
    before = cluster.calico_resource("felixConfiguration")
    stack.up()
    cluster.kubectl("delete", "daemonset", "calico-node", "-n", "kube-system", "--wait=true")
    # pulumi-kubernetes gives a patch's fields back with a server-side apply that does not check that its target
    # still exists: a plain destroy stops here (README: "Destroy after Calico was removed").
    blocked = stack.destroy(check=False)
    assert blocked.returncode != 0
    assert "currently managing a required field" in blocked.stdout + blocked.stderr
    # The refresh finds the DaemonSet gone and drops its patch from the state, so destroy does not touch it.
    stack.destroy("--refresh")
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
    cluster.kubectl("apply", "-f", "-", input=json.dumps({**installation, "spec": {"variant": "Calico"}}))
    stack = make_stack(cluster, example_config("example-operator"))
    stack.up()
    cluster.kubectl("delete", "installation", "default", "--wait=true")
    # The refresh drops the InstallationPatch from the state. Applying it again would create an Installation with
    # only typhaMetricsPort set, which the operator would install Calico from: the missing prerequisite stops it.
    stopped = stack.up("--refresh", check=False)
    assert stopped.returncode != 0
    assert "calico-monitoring-prerequisites-tigera-operator-installation-default" in stopped.stdout
    assert cluster.get("installation", "default") is None
    stack.destroy("--refresh")
    assert cluster.get("installation", "default") is None
    assert stack_resource_types(stack) == []
