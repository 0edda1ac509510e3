"""Faults on the real engine: the datastore down during `up`, Ctrl-C in the middle of the calicoctl step, and a
preview whose drift check cannot read (calicoctl missing, etcd unreachable): it fails unless told to warn."""

from __future__ import annotations

import json
import signal
import time

import pytest

from tests.e2e.conftest import etcd_env, leftover_files
from tests.e2e.test_manifest_install import example_config

pytestmark = pytest.mark.e2e


def test_datastore_down_during_up_fails_with_calicoctls_message_and_records_nothing(
    make_cluster,
    make_stack,
    calico_etcd,
    pki,
):
    cluster = make_cluster()
    env = etcd_env(calico_etcd, pki)
    document = {"apiVersion": "projectcalico.org/v3", "kind": "FelixConfiguration", "metadata": {"name": "default"}}
    cluster.calicoctl(
        "create", "-f", "-", input=json.dumps({**document, "spec": {"logSeverityScreen": "Info"}}), env=env
    )
    before = cluster.calico_resource("felixConfiguration", env=env)["spec"]
    config = example_config("example-etcd")
    config["calico-monitoring:datastore"] = {
        "type": "etcdv3",
        "endpoints": [calico_etcd.endpoint],
        "keyFile": env["ETCD_KEY_FILE"],
        "certFile": env["ETCD_CERT_FILE"],
        "caCertFile": env["ETCD_CA_CERT_FILE"],
    }
    config["calico-monitoring:kubeControllers"] = {"enabled": False}
    config["calico-monitoring:calicoctl"] = {"timeoutSeconds": 15}
    stack = make_stack(cluster, config)

    calico_etcd.stop()
    failed = stack.up(check=False)
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    # calicoctl keeps retrying an unreachable etcd; the provider stops it and names the step.
    assert "calicoctl get felixConfiguration default did not answer within 15 s" in output, output[-3000:]
    exported = json.loads(stack.export())
    assert not [r for r in exported["deployment"].get("resources") or [] if "CalicoctlPatch" in r["type"]]

    calico_etcd.start()
    stack.up()
    assert cluster.calico_resource("felixConfiguration", env=env)["spec"]["prometheusMetricsEnabled"] is True
    stack.destroy()
    assert cluster.calico_resource("felixConfiguration", env=env)["spec"] == before


SLOW_CALICOCTL = """#!/bin/sh
# calicoctl that stops for a while after a patch, so the test can interrupt `pulumi up` right there.
"{real}" "$@"
status=$?
case "$1" in patch) touch "{marker}"; sleep 60 ;; esac
exit $status
"""


def test_ctrl_c_during_the_calicoctl_step_keeps_the_original_values(make_cluster, make_stack, tmp_path):
    cluster = make_cluster()
    before = cluster.calico_resource("felixConfiguration")
    marker = tmp_path / "patched"
    slow = tmp_path / "slow-calicoctl"
    slow.write_text(SLOW_CALICOCTL.format(real=cluster.binaries.calicoctl, marker=marker))
    slow.chmod(0o755)
    config = example_config("example-kdd")
    config["calico-monitoring:calicoctl"] = {"path": str(slow)}
    config["calico-monitoring:kubeControllers"] = {"enabled": False}
    stack = make_stack(cluster, config)

    running = stack.start("up", "--yes", "--non-interactive", "--skip-preview", "--stack", stack.name)
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline and running.poll() is None:
        time.sleep(0.2)
    assert marker.exists(), "the calicoctl patch never ran"
    running.send_signal(signal.SIGINT)
    assert running.wait(timeout=120) != 0
    # Patched in the cluster, and the originals are recorded there even though Pulumi saved nothing.
    assert cluster.calico_resource("felixConfiguration")["spec"]["prometheusMetricsEnabled"] is True

    config_fast = stack.project / f"Pulumi.{stack.name}.yaml"
    config_fast.write_text(config_fast.read_text().replace(str(slow), str(cluster.binaries.calicoctl)))
    stack.run("cancel", "--yes", "--stack", stack.name, check=False)
    stack.up()
    stack.destroy()
    after = cluster.calico_resource("felixConfiguration")
    assert after["spec"] == before["spec"]
    assert (after["metadata"].get("annotations") or {}) == (before["metadata"].get("annotations") or {})
    assert leftover_files(stack) == []


DRIFT = "could not read the live resource to check for drift: "
WARN_HINT = "set calico-monitoring:calicoctl.driftCheck to warn"


def test_a_preview_that_cannot_check_for_drift_fails_naming_the_cause_unless_told_to_warn(
    make_cluster, make_stack, calico_etcd, pki, tmp_path
):
    cluster = make_cluster()
    env = etcd_env(calico_etcd, pki)
    document = {"apiVersion": "projectcalico.org/v3", "kind": "FelixConfiguration", "metadata": {"name": "default"}}
    cluster.calicoctl(
        "create", "-f", "-", input=json.dumps({**document, "spec": {"logSeverityScreen": "Info"}}), env=env
    )
    before = cluster.calico_resource("felixConfiguration", env=env)["spec"]
    tools = tmp_path / "tools"
    tools.mkdir()
    calicoctl = tools / "calicoctl"
    calicoctl.symlink_to(cluster.binaries.calicoctl)
    config = example_config("example-etcd")
    config["calico-monitoring:datastore"] = {
        "type": "etcdv3",
        "endpoints": [calico_etcd.endpoint],
        "keyFile": env["ETCD_KEY_FILE"],
        "certFile": env["ETCD_CERT_FILE"],
        "caCertFile": env["ETCD_CA_CERT_FILE"],
    }
    config["calico-monitoring:kubeControllers"] = {"enabled": False}
    config["calico-monitoring:calicoctl"] = {"path": str(calicoctl), "timeoutSeconds": 10}
    stack = make_stack(cluster, config)
    stack.up()

    def warn(on: bool) -> None:
        if on:
            stack.config_set("calico-monitoring:calicoctl.driftCheck", "warn", path=True)
        else:
            stack.run("config", "rm", "--path", "calico-monitoring:calicoctl.driftCheck", "--stack", stack.name)

    def failed_preview() -> str:
        failed = stack.preview(check=False)
        output = failed.stdout + failed.stderr
        assert failed.returncode != 0, output[-3000:]
        assert DRIFT in output and WARN_HINT in output, output[-3000:]
        return output

    def warned_preview(*extra: str) -> None:
        passed = stack.preview(*extra)
        output = passed.stdout + passed.stderr
        assert f"warning: {DRIFT}" in output and "calicoctl-patch" not in passed.stdout, output[-3000:]

    # calicoctl gone from where the stack runs it (the path is unchanged, so only the live read decides).
    calicoctl.unlink()
    output = failed_preview()
    assert f"calicoctl not found: '{calicoctl}'" in output, output[-3000:]
    assert "install calicoctl of the cluster's Calico release" in output, output[-3000:]
    warn(True)
    warned_preview("--expect-no-changes")
    warn(False)
    calicoctl.symlink_to(cluster.binaries.calicoctl)

    # etcd down: calicoctl keeps retrying it until calicoctl.timeoutSeconds.
    calico_etcd.stop()
    output = failed_preview()
    assert "calicoctl get felixConfiguration default did not answer within 10 s" in output, output[-3000:]
    assert "calicoctl keeps retrying a datastore it cannot reach" in output, output[-3000:]
    warn(True)
    warned_preview("--expect-no-changes")
    warn(False)
    # The variable also reaches the kubernetes provider (its deleteUnreachable): that one shows an update.
    stack.env["PULUMI_K8S_DELETE_UNREACHABLE"] = "true"
    warned_preview()
    del stack.env["PULUMI_K8S_DELETE_UNREACHABLE"]

    calico_etcd.start()
    stack.preview("--expect-no-changes")
    stack.destroy()
    assert cluster.calico_resource("felixConfiguration", env=env)["spec"] == before
