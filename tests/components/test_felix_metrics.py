"""The Felix calicoctl scripts, run for real under /bin/sh against a stand-in calicoctl.

The scripts are taken from what the program registers on the mock engine, so these
are the exact strings pulumi-command would run.
"""

import json
import stat

import pytest

from tests.conftest import KDD

ORIGINAL = {"bpfLogLevel": "", "ipipEnabled": True, "logSeverityScreen": "Info", "reportingInterval": "0s"}
TUTORIAL_PATCH = {"spec": {"prometheusMetricsEnabled": True, "prometheusMetricsPort": 9091}}


def calls_of(run, verb):
    return [c for c in run.calls if c["argv"] and c["argv"][0] == verb]


def patch_argument(call):
    argv = call["argv"]
    return json.loads(argv[argv.index("--patch") + 1])


def config_of(call):
    return json.loads(call["config"]["content"])["spec"]


def test_patch_is_exactly_the_tutorial_patch(sandbox, felix_command):
    command = felix_command()
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    run = sandbox.run(command.create, command.environment)
    assert run.returncode == 0, run.stderr
    [patch] = calls_of(run, "patch")
    assert patch["argv"][:3] == ["patch", "felixConfiguration", "default"]
    assert patch_argument(patch) == TUTORIAL_PATCH
    assert sandbox.resource("FelixConfiguration", "default")["spec"] == {**ORIGINAL, **TUTORIAL_PATCH["spec"]}


def test_optional_felix_settings_are_patched_only_when_set(sandbox, felix_command):
    felix = {"metricsPort": 9191, "metricsHost": "0.0.0.0", "goMetrics": False, "processMetrics": True}
    command = felix_command({**KDD, "calico-monitoring:felix": felix})
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    run = sandbox.run(command.create, command.environment)
    assert run.returncode == 0, run.stderr
    assert patch_argument(calls_of(run, "patch")[0]) == {
        "spec": {
            "prometheusMetricsEnabled": True,
            "prometheusMetricsPort": 9191,
            "prometheusMetricsHost": "0.0.0.0",
            "prometheusGoMetricsEnabled": False,
            "prometheusProcessMetricsEnabled": True,
        }
    }


def test_create_records_previous_values_and_reports_the_applied_ones(sandbox, felix_command):
    command = felix_command()
    sandbox.seed("FelixConfiguration", "default", {**ORIGINAL, "prometheusMetricsEnabled": False})
    run = sandbox.run(command.create, command.environment)
    assert run.returncode == 0, run.stderr
    state = json.loads(run.stdout)
    # The port was unset before, so restoring removes it (null); enabled goes back to false.
    assert state["restorePatch"] == {"spec": {"prometheusMetricsEnabled": False, "prometheusMetricsPort": None}}
    assert state["applied"] == TUTORIAL_PATCH
    assert [c["argv"][0] for c in run.calls] == ["get", "patch", "get"]


def test_destroy_puts_back_exactly_what_was_there(sandbox, felix_command):
    command = felix_command()
    before = {**ORIGINAL, "prometheusMetricsEnabled": False, "prometheusMetricsHost": "10.0.0.1"}
    sandbox.seed("FelixConfiguration", "default", before)
    created = sandbox.run(command.create, command.environment)
    assert created.returncode == 0, created.stderr
    deleted = sandbox.run(command.delete, command.environment, previous_stdout=created.pulumi_stdout)
    assert deleted.returncode == 0, deleted.stderr
    assert sandbox.resource("FelixConfiguration", "default")["spec"] == before


def test_metrics_that_were_already_on_stay_on_after_destroy(sandbox, felix_command):
    command = felix_command()
    before = {**ORIGINAL, "prometheusMetricsEnabled": True, "prometheusMetricsPort": 9091}
    sandbox.seed("FelixConfiguration", "default", before)
    created = sandbox.run(command.create, command.environment)
    deleted = sandbox.run(command.delete, command.environment, previous_stdout=created.pulumi_stdout)
    assert (created.returncode, deleted.returncode) == (0, 0)
    assert sandbox.resource("FelixConfiguration", "default")["spec"] == before


def test_replacement_restores_then_patches_anew(sandbox, felix_command):
    # delete-before-replace: the old resource's delete runs before the new create.
    old = felix_command()
    new = felix_command({**KDD, "calico-monitoring:felix": {"metricsPort": 9191}})
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    first = sandbox.run(old.create, old.environment)
    assert sandbox.run(old.delete, old.environment, previous_stdout=first.pulumi_stdout).returncode == 0
    second = sandbox.run(new.create, new.environment)
    assert second.returncode == 0, second.stderr
    spec = sandbox.resource("FelixConfiguration", "default")["spec"]
    assert spec["prometheusMetricsPort"] == 9191 and spec["prometheusMetricsEnabled"] is True
    # What the new resource will restore is the cluster's original state, not the old patch.
    assert json.loads(second.stdout)["restorePatch"]["spec"] == {
        "prometheusMetricsEnabled": None,
        "prometheusMetricsPort": None,
    }
    assert sandbox.run(new.delete, new.environment, previous_stdout=second.pulumi_stdout).returncode == 0
    assert sandbox.resource("FelixConfiguration", "default")["spec"] == ORIGINAL


@pytest.mark.parametrize("failing", ["get", "patch"])
def test_calicoctl_failure_fails_with_its_own_message_and_changes_nothing(sandbox, felix_command, failing):
    command = felix_command()
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    run = sandbox.run(command.create, command.environment, extra_env={"FAKE_CALICOCTL_FAIL": failing})
    assert run.returncode != 0
    assert f"the fake datastore refuses this {failing}" in run.stderr
    assert sandbox.resource("FelixConfiguration", "default")["spec"] == ORIGINAL
    assert run.stdout == ""  # nothing recorded as state
    again = sandbox.run(command.create, command.environment)  # after the fix
    assert again.returncode == 0, again.stderr
    assert sandbox.resource("FelixConfiguration", "default")["spec"]["prometheusMetricsEnabled"] is True


def test_a_patch_that_does_not_take_is_rolled_back(sandbox, felix_command):
    command = felix_command()
    before = {**ORIGINAL, "prometheusMetricsEnabled": False, "prometheusMetricsPort": 9095}
    sandbox.seed("FelixConfiguration", "default", before)
    run = sandbox.run(command.create, command.environment, extra_env={"FAKE_CALICOCTL_DROP": "prometheusMetricsPort"})
    assert run.returncode != 0
    assert "spec.prometheusMetricsPort is 9095, expected 9091" in run.stderr
    assert "restoring its previous values" in run.stderr
    assert sandbox.resource("FelixConfiguration", "default")["spec"] == before
    assert [c["argv"][0] for c in run.calls] == ["get", "patch", "get", "patch"]


def test_missing_calicoctl_is_named(sandbox, felix_command):
    command = felix_command({**KDD, "calico-monitoring:calicoctl": {"path": "/opt/nowhere/calicoctl"}})
    run = sandbox.run(command.create, command.environment)
    assert run.returncode == 127
    assert "calicoctl not found: /opt/nowhere/calicoctl (set calico-monitoring:calicoctl.path)" in run.stderr


def test_destroy_without_recorded_values_leaves_felix_alone(sandbox, felix_command):
    command = felix_command()
    sandbox.seed("FelixConfiguration", "default", {**ORIGINAL, "prometheusMetricsEnabled": True})
    run = sandbox.run(command.delete, command.environment, previous_stdout="")
    assert run.returncode == 0
    assert "no previous values were recorded" in run.stderr
    assert calls_of(run, "patch") == []


@pytest.mark.parametrize("allow", [True, False])
def test_allow_version_mismatch_reaches_every_call(sandbox, felix_command, allow):
    command = felix_command({**KDD, "calico-monitoring:calicoctl": {"allowVersionMismatch": allow}})
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    run = sandbox.run(command.create, command.environment)
    assert run.returncode == 0, run.stderr
    assert all(("--allow-version-mismatch" in c["argv"]) is allow for c in run.calls)


def test_kubernetes_datastore_uses_the_stack_kubeconfig_and_context(sandbox, felix_command):
    command = felix_command({**KDD, "kubernetes:kubeconfig": "/home/ops/.kube/prod"})
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    run = sandbox.run(command.create, command.environment, extra_env={"KUBECONFIG": "/somewhere/else"})
    assert run.returncode == 0, run.stderr
    for call in run.calls:
        assert config_of(call) == {
            "datastoreType": "kubernetes",
            "kubeconfig": "/home/ops/.kube/prod",
            "k8sCurrentContext": "prod-eu-1",
        }
        assert call["config"]["mode"] == 0o600


def test_without_a_kubeconfig_setting_the_provider_default_is_used(sandbox, felix_command):
    command = felix_command()
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    run = sandbox.run(command.create, command.environment, extra_env={"KUBECONFIG": "/ops/kubeconfig"})
    assert config_of(run.calls[0])["kubeconfig"] == "/ops/kubeconfig"
    run = sandbox.run(command.create, command.environment)
    assert config_of(run.calls[0])["kubeconfig"] == str(sandbox.home / ".kube" / "config")
    assert config_of(run.calls[0])["k8sCurrentContext"] == "prod-eu-1"


def test_inline_kubeconfig_lives_in_a_private_file_only_while_the_script_runs(sandbox, felix_command):
    content = "apiVersion: v1\nkind: Config\ncurrent-context: ci\n# token: s3cr3t-token\n"
    command = felix_command(
        {"kubernetes:kubeconfig": content, "calico-monitoring:datastore": {"type": "kubernetes"}},
        secret_keys=["kubernetes:kubeconfig"],
    )
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    run = sandbox.run(command.create, command.environment)
    assert run.returncode == 0, run.stderr
    for call in run.calls:
        assert call["files"]["kubeconfig"] == {"content": content, "mode": 0o600}
        assert config_of(call)["k8sCurrentContext"] == "ci"
        assert not any("s3cr3t" in arg for arg in call["argv"])
    assert "s3cr3t" not in run.stdout + run.stderr
    assert sandbox.leftovers() == []


ETCD = {
    "type": "etcdv3",
    "endpoints": ["https://192.168.57.51:2379", "https://192.168.57.52:2379"],
    "keyFile": "/opt/kubernetes/ssl/server-key.pem",
    "certFile": "/opt/kubernetes/ssl/server.pem",
    "caCertFile": "/opt/kubernetes/ssl/ca.pem",
}


def test_etcd_with_tls_files(sandbox, felix_command):
    command = felix_command({"kubernetes:context": "c", "calico-monitoring:datastore": ETCD})
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    # Settings exported in the shell that runs pulumi must not leak into the run.
    leak = {"ETCD_USERNAME": "intruder", "ETCD_PASSWORD": "intruder", "ETCD_KEY": "intruder"}
    run = sandbox.run(command.create, command.environment, extra_env=leak)
    assert run.returncode == 0, run.stderr
    assert config_of(run.calls[0]) == {
        "datastoreType": "etcdv3",
        "etcdEndpoints": "https://192.168.57.51:2379,https://192.168.57.52:2379",
        "etcdKeyFile": "/opt/kubernetes/ssl/server-key.pem",
        "etcdCertFile": "/opt/kubernetes/ssl/server.pem",
        "etcdCACertFile": "/opt/kubernetes/ssl/ca.pem",
    }


KEY = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIK3y-not-a-real-key\n-----END EC PRIVATE KEY-----\n"
CERT = "-----BEGIN CERTIFICATE-----\nMIIB-client\n-----END CERTIFICATE-----\n"
CA = "-----BEGIN CERTIFICATE-----\nMIIB-ca\n-----END CERTIFICATE-----\n"
PASSWORD = "pa$$ 'word' `x` $(y)"


def inline_etcd_config():
    datastore = {
        "type": "etcdv3",
        "endpoints": ["https://10.0.0.1:2379"],
        "key": KEY,
        "cert": CERT,
        "caCert": CA,
        "username": "calico",
        "password": PASSWORD,
    }
    return {"kubernetes:context": "c", "calico-monitoring:datastore": datastore}


def test_etcd_inline_pem_is_written_privately_and_removed(sandbox, felix_command):
    command = felix_command(inline_etcd_config(), secret_keys=["calico-monitoring:datastore"])
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    run = sandbox.run(command.create, command.environment)
    assert run.returncode == 0, run.stderr
    for call in run.calls:
        files = call["files"]
        assert files["etcdKeyFile"] == {"content": KEY, "mode": 0o600}
        assert files["etcdCertFile"] == {"content": CERT, "mode": 0o600}
        assert files["etcdCACertFile"] == {"content": CA, "mode": 0o600}
        spec = config_of(call)
        assert spec["etcdUsername"] == "calico" and spec["etcdPassword"] == PASSWORD
        assert call["config"]["mode"] & (stat.S_IRWXG | stat.S_IRWXO) == 0
        argv = " ".join(call["argv"])
        assert "PRIVATE KEY" not in argv and PASSWORD not in argv
    assert "PRIVATE KEY" not in run.stdout + run.stderr and PASSWORD not in run.stdout + run.stderr
    assert sandbox.leftovers() == []


HOSTILE = "we ird 'q' \"dq\" $(touch PWNED1) `touch PWNED2`; touch PWNED3\nline2"


def test_hostile_paths_and_names_are_passed_literally(tmp_path, felix_command):
    from tests.support.calicoctl_sandbox import CalicoctlSandbox

    box = CalicoctlSandbox(tmp_path, bin_dir=f"bin {HOSTILE}")
    config = {
        "kubernetes:context": f"ctx {HOSTILE}",
        "kubernetes:kubeconfig": f"/kube/{HOSTILE.replace(chr(10), ' ')}",
        "calico-monitoring:datastore": {"type": "kubernetes"},
        "calico-monitoring:calicoctl": {"path": str(box.calicoctl)},
    }
    command = felix_command(config)
    box.seed("FelixConfiguration", "default", ORIGINAL)
    run = box.run(command.create, command.environment, path_first=tmp_path / "empty")
    assert run.returncode == 0, run.stderr
    assert len(run.calls) == 3
    assert config_of(run.calls[0])["k8sCurrentContext"] == f"ctx {HOSTILE}"
    assert config_of(run.calls[0])["kubeconfig"] == config["kubernetes:kubeconfig"]
    deleted = box.run(command.delete, command.environment, previous_stdout=run.pulumi_stdout)
    assert deleted.returncode == 0, deleted.stderr
    assert box.resource("FelixConfiguration", "default")["spec"] == ORIGINAL
    pwned = [p for p in tmp_path.rglob("PWNED*")] + [p for p in (tmp_path / "..").glob("PWNED*")]
    assert pwned == []
