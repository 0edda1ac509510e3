"""The calicoctl patch provider, run in-process against the stand-in calicoctl.

The inputs are the ones the program registers on the mock engine for a stack config,
so these are the exact properties the dynamic provider receives from a real engine.
(The real engine, provider process and calicoctl are exercised in tests/e2e.)
"""

import json
import os
import subprocess

import pytest

from calicoctl.helper import ORIGINALS_ANNOTATION
from calicoctl.provider import CalicoctlError, CalicoctlPatchProvider
from tests.conftest import KDD

ORIGINAL = {"bpfLogLevel": "", "ipipEnabled": True, "logSeverityScreen": "Info", "reportingInterval": "0s"}
TUTORIAL = {"prometheusMetricsEnabled": True, "prometheusMetricsPort": 9091}
UNSET_BEFORE = {"spec.prometheusMetricsEnabled": None, "spec.prometheusMetricsPort": None}


@pytest.fixture
def provider(sandbox, monkeypatch):
    monkeypatch.setenv("PATH", os.pathsep.join([str(sandbox.bin), "/usr/bin", "/bin"]))
    monkeypatch.setenv("HOME", str(sandbox.home))
    monkeypatch.setenv("TMPDIR", str(sandbox.tmp))
    monkeypatch.setenv("FAKE_CALICOCTL_DIR", str(sandbox.state))
    for name in ("KUBECONFIG", "FAKE_CALICOCTL_FAIL", "FAKE_CALICOCTL_FAIL_MESSAGE", "FAKE_CALICOCTL_DROP"):
        monkeypatch.delenv(name, raising=False)
    return CalicoctlPatchProvider()


def felix(sandbox):
    return sandbox.resource("FelixConfiguration", "default")


def annotation(document):
    return (document.get("metadata", {}).get("annotations") or {}).get(ORIGINALS_ANNOTATION)


def verbs(sandbox):
    return [call["argv"][0] for call in sandbox._new_calls()]


def patches(calls):
    return [json.loads(c["argv"][c["argv"].index("--patch") + 1]) for c in calls if c["argv"][0] == "patch"]


def config_of(call):
    return json.loads(call["config"]["content"])["spec"]


def test_create_applies_the_tutorial_patch_and_records_the_originals_on_the_resource(sandbox, provider, felix_patch):
    sandbox.seed("FelixConfiguration", "default", {**ORIGINAL, "prometheusMetricsEnabled": False})
    result = provider.create(felix_patch().props)
    calls = sandbox._new_calls()
    assert [c["argv"][:2] for c in calls] == [[verb, "felixConfiguration"] for verb in ("get", "patch", "get")]
    [patch] = patches(calls)
    assert patch["spec"] == TUTORIAL
    assert felix(sandbox)["spec"] == {**ORIGINAL, **TUTORIAL}
    # Unset before: recorded as null, so restoring removes the field again.
    originals = {"spec.prometheusMetricsEnabled": False, "spec.prometheusMetricsPort": None}
    assert json.loads(annotation(felix(sandbox))) == originals
    assert result.id == "felixConfiguration/default"
    assert result.outs["applied"] == {"spec": TUTORIAL}
    assert result.outs["originals"] == originals


def test_optional_felix_settings_are_patched_only_when_set(sandbox, provider, felix_patch):
    settings = {"metricsPort": 9191, "metricsHost": "0.0.0.0", "goMetrics": False, "processMetrics": True}
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    provider.create(felix_patch({**KDD, "calico-monitoring:felix": settings}).props)
    assert patches(sandbox._new_calls())[0]["spec"] == {
        "prometheusMetricsEnabled": True,
        "prometheusMetricsPort": 9191,
        "prometheusMetricsHost": "0.0.0.0",
        "prometheusGoMetricsEnabled": False,
        "prometheusProcessMetricsEnabled": True,
    }


@pytest.mark.parametrize(
    "before",
    [
        {**ORIGINAL, "prometheusMetricsEnabled": False, "prometheusMetricsHost": "10.0.0.1"},
        {**ORIGINAL, "prometheusMetricsEnabled": True, "prometheusMetricsPort": 9091},
    ],
    ids=["off-before", "already-on"],
)
def test_delete_puts_back_exactly_what_was_there(sandbox, provider, felix_patch, before):
    sandbox.seed("FelixConfiguration", "default", before)
    created = provider.create(felix_patch().props)
    provider.delete(created.id, created.outs)
    assert felix(sandbox)["spec"] == before
    assert annotation(felix(sandbox)) is None


def test_delete_puts_back_what_the_resource_records_when_the_state_is_behind(sandbox, provider, felix_patch):
    before = {**ORIGINAL, "prometheusMetricsHost": "10.1.1.1"}
    sandbox.seed("FelixConfiguration", "default", before)
    created = provider.create(felix_patch().props)
    # An update that sets the host patched the resource, and the run was killed before Pulumi saved it:
    # the state's originals lack the host, the record on the resource has it.
    provider.update(
        created.id, created.outs, felix_patch({**KDD, "calico-monitoring:felix": {"metricsHost": "0.0.0.0"}}).props
    )
    assert "spec.prometheusMetricsHost" not in created.outs["originals"]
    provider.delete(created.id, created.outs)
    assert felix(sandbox)["spec"] == before
    assert annotation(felix(sandbox)) is None


def test_an_interrupted_run_keeps_the_true_originals(sandbox, provider, felix_patch):
    # A run patched the resource and was killed before Pulumi saved anything: the annotation remains.
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    provider.create(felix_patch().props)
    again = provider.create(felix_patch().props)  # the next `pulumi up` creates it anew
    assert again.outs["originals"] == {"spec.prometheusMetricsEnabled": None, "spec.prometheusMetricsPort": None}
    provider.delete(again.id, again.outs)
    assert felix(sandbox)["spec"] == ORIGINAL


def test_a_port_change_is_an_update_that_keeps_the_originals(sandbox, provider, felix_patch):
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    old = provider.create(felix_patch().props)
    new_props = felix_patch({**KDD, "calico-monitoring:felix": {"metricsPort": 9191}}).props
    diff = provider.diff(old.id, old.outs, new_props)
    assert diff.changes is True and not diff.replaces
    sandbox._new_calls()
    updated = provider.update(old.id, old.outs, new_props)
    # One patch, straight to the new value: metrics never go off in between.
    assert [p["spec"] for p in patches(sandbox._new_calls())] == [{**TUTORIAL, "prometheusMetricsPort": 9191}]
    assert updated.outs["originals"] == old.outs["originals"]
    provider.delete(old.id, updated.outs)
    assert felix(sandbox)["spec"] == ORIGINAL


def test_dropping_an_optional_field_puts_its_original_back(sandbox, provider, felix_patch):
    sandbox.seed("FelixConfiguration", "default", {**ORIGINAL, "prometheusMetricsHost": "10.1.1.1"})
    old = provider.create(felix_patch({**KDD, "calico-monitoring:felix": {"metricsHost": "0.0.0.0"}}).props)
    updated = provider.update(old.id, old.outs, felix_patch().props)
    assert felix(sandbox)["spec"]["prometheusMetricsHost"] == "10.1.1.1"
    assert "spec.prometheusMetricsHost" not in updated.outs["originals"]


def test_a_connection_change_is_an_update_through_the_new_connection(sandbox, provider, felix_patch):
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    old = provider.create(felix_patch().props)
    moved = felix_patch({**KDD, "kubernetes:kubeconfig": "/etc/kube/rotated"}).props
    diff = provider.diff(old.id, old.outs, moved)
    assert diff.changes is True and not diff.replaces
    sandbox._new_calls()
    provider.update(old.id, old.outs, moved)
    calls = sandbox._new_calls()
    assert {config_of(c)["kubeconfig"] for c in calls} == {"/etc/kube/rotated"}
    assert [p["spec"] for p in patches(calls)] == [TUTORIAL]  # no restore in between


def test_drift_shows_in_diff_and_update_repairs_it(sandbox, provider, felix_patch):
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    created = provider.create(felix_patch().props)
    props = felix_patch().props
    assert provider.diff(created.id, created.outs, props).changes is False
    document = felix(sandbox)
    document["spec"]["prometheusMetricsEnabled"] = False  # someone ran calicoctl patch by hand
    (sandbox.state / "felixconfiguration.default.json").write_text(json.dumps(document))
    assert provider.diff(created.id, created.outs, props).changes is True
    read = provider.read(created.id, created.outs)
    assert read.outs["applied"]["spec"]["prometheusMetricsEnabled"] is False
    repaired = provider.update(created.id, created.outs, props)
    assert felix(sandbox)["spec"]["prometheusMetricsEnabled"] is True
    assert repaired.outs["originals"] == created.outs["originals"]


# What calicoctl v3.31 (Kubernetes datastore) printed in the e2e suite for an identity without the preview rights.
FORBIDDEN = (
    "failed to get resources: unable to get Cluster Information to verify version mismatch: connection is "
    'unauthorized: clusterinformations.crd.projectcalico.org "default" is forbidden: User "calico-monitoring-preview" '
    'cannot get resource "clusterinformations" in API group "crd.projectcalico.org" at the cluster scope\n'
    "Use --allow-version-mismatch to override"
)


def test_diff_fails_naming_a_refused_permission_but_only_warns_when_calicoctl_cannot_read(
    sandbox, provider, felix_patch, monkeypatch
):
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    created = provider.create(felix_patch().props)
    monkeypatch.setenv("FAKE_CALICOCTL_FAIL", "get")
    # Warning only when the stack says so (tests/unit/calicoctl/test_drift_check.py: it fails otherwise).
    warn = felix_patch({**KDD, "calico-monitoring:calicoctl": {"driftCheck": "warn"}}).props
    assert provider.diff(created.id, created.outs, warn).changes is False
    monkeypatch.setenv("FAKE_CALICOCTL_FAIL_MESSAGE", FORBIDDEN)
    with pytest.raises(CalicoctlError) as raised:
        provider.diff(created.id, created.outs, felix_patch().props)
    message = str(raised.value)
    assert 'cannot get resource "clusterinformations" in API group "crd.projectcalico.org"' in message
    assert "see rbac/" in message and "--allow-version-mismatch" not in message


@pytest.mark.parametrize("failing", ["get", "patch"])
def test_calicoctl_failure_fails_with_its_own_message_and_changes_nothing(
    sandbox, provider, felix_patch, monkeypatch, failing
):
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    monkeypatch.setenv("FAKE_CALICOCTL_FAIL", failing)
    with pytest.raises(CalicoctlError, match=f"the fake datastore refuses this {failing}"):
        provider.create(felix_patch().props)
    assert felix(sandbox)["spec"] == ORIGINAL
    monkeypatch.delenv("FAKE_CALICOCTL_FAIL")
    provider.create(felix_patch().props)
    assert felix(sandbox)["spec"]["prometheusMetricsEnabled"] is True


def test_a_patch_that_does_not_take_is_rolled_back(sandbox, provider, felix_patch, monkeypatch):
    before = {**ORIGINAL, "prometheusMetricsEnabled": False, "prometheusMetricsPort": 9095}
    sandbox.seed("FelixConfiguration", "default", before)
    monkeypatch.setenv("FAKE_CALICOCTL_DROP", "prometheusMetricsPort")
    with pytest.raises(CalicoctlError, match=r"does not show spec\.prometheusMetricsPort; its previous values"):
        provider.create(felix_patch().props)
    assert felix(sandbox)["spec"] == before
    assert annotation(felix(sandbox)) is None


def test_a_missing_felix_configuration_is_explained(sandbox, provider, felix_patch):
    with pytest.raises(CalicoctlError, match="felixConfiguration default does not exist in the datastore"):
        provider.create(felix_patch().props)


def test_delete_after_the_resource_is_gone_succeeds(sandbox, provider, felix_patch):
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    created = provider.create(felix_patch().props)
    (sandbox.state / "felixconfiguration.default.json").unlink()
    provider.delete(created.id, created.outs)
    assert "patch" not in verbs(sandbox)[-1:]


def test_missing_calicoctl_is_named(sandbox, provider, felix_patch):
    props = felix_patch({**KDD, "calico-monitoring:calicoctl": {"path": "/opt/nowhere/calicoctl"}}).props
    with pytest.raises(CalicoctlError, match=r"calicoctl not found: '/opt/nowhere/calicoctl' \(set calico-monitoring"):
        provider.create(props)


@pytest.mark.parametrize("allow", [True, False])
def test_allow_version_mismatch_reaches_every_call(sandbox, provider, felix_patch, allow):
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    provider.create(felix_patch({**KDD, "calico-monitoring:calicoctl": {"allowVersionMismatch": allow}}).props)
    assert all(("--allow-version-mismatch" in c["argv"]) is allow for c in sandbox._new_calls())


def test_kubernetes_datastore_uses_the_stack_kubeconfig_and_context(sandbox, provider, felix_patch, monkeypatch):
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    monkeypatch.setenv("KUBECONFIG", "/somewhere/else")
    monkeypatch.setenv("DATASTORE_TYPE", "etcdv3")  # ambient calicoctl settings never apply
    provider.create(felix_patch({**KDD, "kubernetes:kubeconfig": "/home/ops/.kube/prod"}).props)
    for call in sandbox._new_calls():
        assert config_of(call) == {
            "datastoreType": "kubernetes",
            "kubeconfig": "/home/ops/.kube/prod",
            "k8sCurrentContext": "prod-eu-1",
        }


def test_without_a_kubeconfig_setting_the_ambient_default_is_used(sandbox, provider, felix_patch, monkeypatch):
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    monkeypatch.setenv("KUBECONFIG", "/ops/kubeconfig")
    provider.create(felix_patch().props)
    assert config_of(sandbox._new_calls()[0])["kubeconfig"] == "/ops/kubeconfig"
    monkeypatch.delenv("KUBECONFIG")
    provider.create(felix_patch().props)
    assert config_of(sandbox._new_calls()[0])["kubeconfig"] == str(sandbox.home / ".kube" / "config")


def test_inline_kubeconfig_reaches_calicoctl_only_through_memory(sandbox, provider, felix_patch):
    content = "apiVersion: v1\nkind: Config\ncurrent-context: ci\n# token: s3cr3t-token\n"
    patch = felix_patch(
        {"kubernetes:kubeconfig": content, "calico-monitoring:datastore": {"type": "kubernetes"}},
        secret_keys=["kubernetes:kubeconfig"],
    )
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    provider.create(patch.props)
    for call in sandbox._new_calls():
        assert call["files"]["kubeconfig"]["content"] == content
        assert config_of(call)["kubeconfig"].startswith("/proc/self/fd/")
        assert not any("s3cr3t" in arg for arg in call["argv"])
    assert sandbox.leftovers() == []


ETCD = {
    "type": "etcdv3",
    "endpoints": ["https://192.168.57.51:2379", "https://192.168.57.52:2379"],
    "keyFile": "/opt/kubernetes/ssl/server-key.pem",
    "certFile": "/opt/kubernetes/ssl/server.pem",
    "caCertFile": "/opt/kubernetes/ssl/ca.pem",
}
KEY = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIK3y-not-a-real-key\n-----END EC PRIVATE KEY-----\n"
CERT = "-----BEGIN CERTIFICATE-----\nMIIB-client\n-----END CERTIFICATE-----\n"
CA = "-----BEGIN CERTIFICATE-----\nMIIB-ca\n-----END CERTIFICATE-----\n"
PASSWORD = "pa$$ 'word' `x` $(y)"


def test_etcd_with_tls_files(sandbox, provider, felix_patch, monkeypatch):
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    for name in ("ETCD_USERNAME", "ETCD_PASSWORD", "ETCD_KEY"):
        monkeypatch.setenv(name, "intruder")
    provider.create(felix_patch({"kubernetes:context": "c", "calico-monitoring:datastore": ETCD}).props)
    assert config_of(sandbox._new_calls()[0]) == {
        "datastoreType": "etcdv3",
        "etcdEndpoints": "https://192.168.57.51:2379,https://192.168.57.52:2379",
        "etcdKeyFile": "/opt/kubernetes/ssl/server-key.pem",
        "etcdCertFile": "/opt/kubernetes/ssl/server.pem",
        "etcdCACertFile": "/opt/kubernetes/ssl/ca.pem",
    }


def test_etcd_inline_pem_and_password_stay_in_memory(sandbox, provider, felix_patch):
    datastore = {
        "type": "etcdv3",
        "endpoints": ["https://10.0.0.1:2379"],
        "key": KEY,
        "cert": CERT,
        "caCert": CA,
        "username": "calico",
        "password": PASSWORD,
    }
    config = {"kubernetes:context": "c", "calico-monitoring:datastore": datastore}
    patch = felix_patch(config, secret_keys=["calico-monitoring:datastore"])
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    provider.create(patch.props)
    for call in sandbox._new_calls():
        files = call["files"]
        assert [files[f]["content"] for f in ("etcdKeyFile", "etcdCertFile", "etcdCACertFile")] == [KEY, CERT, CA]
        spec = config_of(call)
        assert spec["etcdUsername"] == "calico" and spec["etcdPassword"] == PASSWORD
        assert all(spec[f].startswith("/proc/self/fd/") for f in ("etcdKeyFile", "etcdCertFile", "etcdCACertFile"))
        argv = " ".join(call["argv"])
        assert "PRIVATE KEY" not in argv and PASSWORD not in argv
    assert sandbox.leftovers() == []


def test_render_mode_writes_scripts_that_apply_and_restore(tmp_path, sandbox, provider, felix_patch):
    out = tmp_path / "out"
    props = felix_patch(
        {**KDD, "calico-monitoring:renderYamlTo": str(out), "calico-monitoring:felix": {"scrape": "service"}}
    ).props
    created = provider.create(props)
    assert verbs(sandbox) == []  # rendering never calls calicoctl
    apply_script = out / "calicoctl" / "calico-monitoring-felix-calicoctl-patch.apply.sh"
    restore_script = out / "calicoctl" / "calico-monitoring-felix-calicoctl-patch.restore.sh"
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    env = {**os.environ, "PATH": os.pathsep.join([str(sandbox.bin), os.environ["PATH"]])}
    applied = subprocess.run([str(apply_script)], env=env, capture_output=True, text=True, check=False)
    assert applied.returncode == 0, applied.stderr
    assert felix(sandbox)["spec"] == {**ORIGINAL, **TUTORIAL}
    # The record the live provider keeps, on the resource itself: the restore script needs nothing else.
    assert json.loads(annotation(felix(sandbox))) == UNSET_BEFORE
    restored = subprocess.run([str(restore_script)], env=env, capture_output=True, text=True, check=False)
    assert restored.returncode == 0, restored.stderr
    assert felix(sandbox)["spec"] == ORIGINAL
    assert annotation(felix(sandbox)) is None
    provider.delete(created.id, created.outs)
    assert not apply_script.exists() and not restore_script.exists()


def test_delete_with_an_unreachable_datastore_fails_unless_the_operator_says_it_is_gone(
    sandbox, provider, felix_patch, monkeypatch
):
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    created = provider.create(felix_patch().props)
    monkeypatch.setenv("FAKE_CALICOCTL_FAIL", "get")
    with pytest.raises(CalicoctlError, match="refuses this get"):
        provider.delete(created.id, created.outs)
    monkeypatch.setenv("PULUMI_K8S_DELETE_UNREACHABLE", "true")
    provider.delete(created.id, created.outs)  # left alone, with a warning naming the originals
    assert felix(sandbox)["spec"]["prometheusMetricsEnabled"] is True


def test_a_refresh_with_an_unreachable_datastore_fails_unless_the_operator_says_it_is_gone(
    sandbox, provider, felix_patch, monkeypatch
):
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    created = provider.create(felix_patch().props)
    monkeypatch.setenv("FAKE_CALICOCTL_FAIL", "get")
    with pytest.raises(CalicoctlError, match="refuses this get"):
        provider.read(created.id, created.outs)
    monkeypatch.setenv("PULUMI_K8S_DELETE_UNREACHABLE", "true")
    gone = provider.read(created.id, created.outs)
    assert gone.id == ""  # an empty id takes the step out of the state, as the kubernetes provider does
    assert felix(sandbox)["spec"]["prometheusMetricsEnabled"] is True


@pytest.fixture
def rendered(tmp_path, sandbox, provider, felix_patch):
    """Runs the scripts renderYamlTo writes: ``rendered("apply")`` or ``rendered("restore")``."""
    out = tmp_path / "rendered"
    config = {**KDD, "calico-monitoring:renderYamlTo": str(out), "calico-monitoring:felix": {"scrape": "service"}}
    provider.create(felix_patch(config).props)
    folder = out / "calicoctl"

    def run(script: str, **extra: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PATH": os.pathsep.join([str(sandbox.bin), os.environ["PATH"]]), **extra}
        path = folder / f"calico-monitoring-felix-calicoctl-patch.{script}.sh"
        return subprocess.run([str(path)], env=env, capture_output=True, text=True, check=False)

    return run


def test_the_rendered_scripts_and_the_provider_undo_each_others_patch(sandbox, provider, felix_patch, rendered):
    before = {**ORIGINAL, "prometheusMetricsEnabled": False}
    sandbox.seed("FelixConfiguration", "default", before)
    assert rendered("apply").returncode == 0
    assert rendered("apply").returncode == 0  # again, as after an interrupted run: the originals are kept
    provider.delete("felixConfiguration/default", {**felix_patch().props, "originals": None})
    assert felix(sandbox)["spec"] == before
    assert annotation(felix(sandbox)) is None
    created = provider.create(felix_patch().props)
    assert json.loads(annotation(felix(sandbox))) == created.outs["originals"]
    restored = rendered("restore")
    assert restored.returncode == 0, restored.stderr
    assert felix(sandbox)["spec"] == before
    assert annotation(felix(sandbox)) is None


def test_the_rendered_restore_leaves_a_resource_without_a_record_or_that_is_gone(sandbox, rendered):
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    unrecorded = rendered("restore")
    assert unrecorded.returncode == 0, unrecorded.stderr
    assert "no previous values were recorded when this was created; leaving the resource as it is" in unrecorded.stderr
    assert verbs(sandbox) == ["get"]
    assert felix(sandbox)["spec"] == ORIGINAL
    (sandbox.state / "felixconfiguration.default.json").unlink()
    gone = rendered("restore")
    assert gone.returncode == 0, gone.stderr
    assert "felixConfiguration default does not exist: nothing to restore" in gone.stderr
    failing = rendered("restore", FAKE_CALICOCTL_FAIL="get")
    assert failing.returncode == 1
    assert "the fake datastore refuses this get" in failing.stderr


def test_the_rendered_apply_rolls_back_a_patch_that_does_not_take(sandbox, rendered):
    before = {**ORIGINAL, "prometheusMetricsEnabled": False, "prometheusMetricsPort": 9095}
    sandbox.seed("FelixConfiguration", "default", before)
    applied = rendered("apply", FAKE_CALICOCTL_DROP="prometheusMetricsPort")
    assert applied.returncode == 1
    assert "spec.prometheusMetricsPort is 9095, expected 9091" in applied.stderr
    assert felix(sandbox)["spec"] == before
    assert annotation(felix(sandbox)) is None
