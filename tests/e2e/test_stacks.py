"""Every example stack on the real engine: a clean re-preview after `up`, Typha on and off, operator installs,
and render mode."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.e2e.cluster import calico_manifests
from tests.e2e.conftest import wait_established
from tests.e2e.test_manifest_install import example_config, without_bookkeeping

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("typha", [False, True], ids=["typha-off", "typha-on"])
def test_manifest_install_previews_no_changes_after_up(make_cluster, make_stack, typha):
    cluster = make_cluster(typha=typha)
    typha_before = cluster.get("deployment", "calico-typha", "kube-system") if typha else None
    config = example_config("example-kdd")
    config["calico-monitoring:typha"] = {"enabled": typha}
    stack = make_stack(cluster, config)
    stack.up()
    stack.preview("--expect-no-changes")
    stack.up("--expect-no-changes")
    if typha:
        live = cluster.get("deployment", "calico-typha", "kube-system")
        env = {e["name"]: e.get("value") for e in live["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["TYPHA_PROMETHEUSMETRICSENABLED"] == "true" and env["TYPHA_PROMETHEUSMETRICSPORT"] == "9093"
    stack.destroy()
    if typha:
        after = without_bookkeeping(cluster.get("deployment", "calico-typha", "kube-system"))
        assert after == without_bookkeeping(typha_before)


def install_operator_crds(cluster) -> None:
    documents = [d for d in yaml.safe_load_all((calico_manifests() / "operator-crds.yaml").read_text()) if d]
    installation = [d for d in documents if d["metadata"]["name"] == "installations.operator.tigera.io"]
    cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(installation))
    wait_established(cluster, "installations.operator.tigera.io")


def install_operator_installation(cluster) -> None:
    """What the Tigera operator's users have: its CRDs, `calico-system`, and `Installation default`."""
    install_operator_crds(cluster)
    cluster.kubectl("create", "namespace", "calico-system")
    installation = {
        "apiVersion": "operator.tigera.io/v1",
        "kind": "Installation",
        "metadata": {"name": "default"},
        "spec": {"variant": "Calico"},
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(installation))


def test_operator_install_sets_typha_metrics_through_the_installation(make_cluster, make_stack):
    cluster = make_cluster()
    install_operator_installation(cluster)
    before = without_bookkeeping(cluster.get("installation", "default"))
    workloads_before = cluster.kubectl("get", "daemonsets,deployments", "-A", "-o", "json")
    stack = make_stack(cluster, example_config("example-operator"))
    stack.up()
    live = cluster.get("installation", "default")
    assert live["spec"]["typhaMetricsPort"] == 9093
    assert cluster.kubectl("get", "daemonsets,deployments", "-A", "-o", "json") == workloads_before
    stack.preview("--expect-no-changes")
    stack.destroy()
    assert without_bookkeeping(cluster.get("installation", "default")) == before


def test_render_mode_writes_manifests_and_scripts(make_cluster, make_stack):
    cluster = make_cluster()
    config = example_config("example-kdd")
    config["calico-monitoring:felix"] = {"scrape": "service"}
    config["calico-monitoring:renderYamlTo"] = "rendered-out"
    felix_before = cluster.calico_resource("felixConfiguration")
    stack = make_stack(cluster, config)
    stack.preview()
    stack.up()
    out = stack.project / "rendered-out"
    manifests = sorted(p.name for p in (out / "manifests").rglob("*.yaml"))
    assert any("servicemonitor" in name.lower() or "felix" in name.lower() for name in manifests), manifests
    scripts = sorted(p.name for p in (out / "calicoctl").iterdir())
    assert scripts == [
        "calico-monitoring-felix-calicoctl-patch.apply.sh",
        "calico-monitoring-felix-calicoctl-patch.restore.sh",
        "calico-monitoring-kube-controllers-calicoctl-patch.apply.sh",
        "calico-monitoring-kube-controllers-calicoctl-patch.restore.sh",
    ]
    # Rendering touches no cluster.
    assert cluster.calico_resource("felixConfiguration") == felix_before
    assert cluster.get("servicemonitor", "felix", "monitoring") is None
    stack.destroy()
    assert not (out / "calicoctl" / "calico-monitoring-felix-calicoctl-patch.apply.sh").exists()


def test_the_cli_reads_stack_files_as_make_render_does(make_cluster, make_stack):
    cluster = make_cluster(calico=False, monitoring_crds=False)
    config = example_config("example-kdd")
    stack = make_stack(cluster, config)
    stack_file = stack.project / f"Pulumi.{stack.name}.yaml"
    text = stack_file.read_text()
    assert "\nconfig:\n" in "\n" + text
    stack_file.write_text(
        ("\n" + text).replace("\nconfig:\n", "\nconfig:\n  calico-monitoring:dashboards: {enabled: yes}\n", 1)
    )
    failed = stack.preview(check=False)
    assert failed.returncode != 0
    # The same message tests/program/tools/evaluator/test_render.py expects from the offline evaluator.
    assert 'calico-monitoring:dashboards.enabled: got "yes"; expected true or false' in failed.stdout + failed.stderr


def test_the_cli_refuses_a_non_object_for_an_object_key_as_make_render_does(make_cluster, make_stack, tmp_path):
    # Pulumi.yaml declares the object keys `type: object`: the CLI checks that before the program runs.
    from tools.evaluator.mock_engine import StackConfigError, load_stack_file

    cluster = make_cluster(calico=False, monitoring_crds=False)
    stack = make_stack(cluster, example_config("example-kdd"))
    stack_file = stack.project / f"Pulumi.{stack.name}.yaml"
    text = stack_file.read_text()
    stack_file.write_text(
        ("\n" + text).replace("\nconfig:\n", "\nconfig:\n  calico-monitoring:verify: http://p:9090\n", 1)
    )
    failed = stack.preview(check=False)
    assert failed.returncode != 0
    message = f"Stack '{stack.name}' with configuration key 'calico-monitoring:verify' must be of type 'object'"
    assert message in failed.stdout + failed.stderr
    (tmp_path / f"Pulumi.{stack.name}.yaml").write_text(stack_file.read_text())
    with pytest.raises(StackConfigError) as offline:
        load_stack_file(stack.name, tmp_path)
    assert str(offline.value) == message


@pytest.mark.parametrize("missing", ["prometheus-operator", "calico-node"])
def test_preview_fails_early_naming_a_missing_prerequisite(make_cluster, make_stack, missing):
    cluster = make_cluster(monitoring_crds=missing != "prometheus-operator")
    if missing == "calico-node":
        cluster.kubectl("delete", "daemonset", "calico-node", "-n", "kube-system", "--wait=true")
    stack = make_stack(cluster, example_config("example-kdd"))
    failed = stack.preview(check=False)
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    expected = {
        "prometheus-operator": "prerequisites-prometheus-operator-crd-podmonitors.monitoring.coreos.com",
        "calico-node": "prerequisites-calico-node",
    }[missing]
    assert expected in output, output[-3000:]
    assert "not found" in output or "does not exist" in output or "NotFound" in output, output[-3000:]


def test_preview_fails_early_on_a_hand_made_felix_podmonitor_and_passes_once_it_is_gone(make_cluster, make_stack):
    cluster = make_cluster()
    # The tutorial's manual step, applied by hand before anyone ran this program.
    hand_made = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": "felix", "namespace": "monitoring"},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "calico-node"}},
            "namespaceSelector": {"matchNames": ["kube-system"]},
            "podMetricsEndpoints": [{"port": "http-metrics"}],
        },
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(hand_made))
    stack = make_stack(cluster, example_config("example-kdd"))
    failed = stack.preview(check=False)
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    message = (
        "PodMonitor monitoring/felix is in the way: it exists, was not created by Pulumi (written by "
        "kubectl-client-side-apply), and this stack creates an object of that name. Delete it (kubectl delete "
        "podmonitor felix -n monitoring), or give this stack's PodMonitor another name with "
        "`pulumi config set --path calico-monitoring:podMonitor.name <name>`."
    )
    assert message in output, output[-3000:]
    # Nothing was applied: the preview failed before the calicoctl step, and `up` fails the same way.
    refused = stack.up(check=False)
    assert refused.returncode != 0 and "is in the way" in refused.stdout + refused.stderr
    assert cluster.calico_resource("felixConfiguration")["spec"].get("prometheusMetricsEnabled") is None
    cluster.kubectl("delete", "podmonitor", "felix", "-n", "monitoring", "--wait=true")
    stack.up()
    # Our own PodMonitor, written by pulumi-kubernetes, is not in the way of the next run.
    stack.preview("--expect-no-changes")
    stack.destroy()
