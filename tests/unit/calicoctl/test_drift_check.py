"""A preview whose drift check cannot read the live resource fails, naming calicoctl's reason and what to do;
only calicoctl.driftCheck: warn or PULUMI_K8S_DELETE_UNREACHABLE turn that into the warning of before.
And calicoctl.version: the calicoctl found must be of that release.

The provider runs in-process against the stand-in calicoctl (tests/support/fake_calicoctl.py), with the
inputs the program registers on the mock engine; tests/e2e/test_faults.py runs the real ones.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pytest

from calicoctl.command import calicoctl_inputs
from calicoctl.provider import CalicoctlError, CalicoctlPatchProvider, changed_inputs
from configuration import CalicoctlSettings, ConfigError, parse_settings
from tests.conftest import KDD

ORIGINAL = {"logSeverityScreen": "Info"}
DRIFT = "could not read the live resource to check for drift: "
WARN_HINT = "set calico-monitoring:calicoctl.driftCheck to warn"
# What calicoctl v3.31 prints when its version check cannot reach the Kubernetes API, and when the releases differ
# (calicoctl/calicoctl/commands/common/version_mismatch.go).
UNREACHABLE = (
    "failed to get resources: unable to get Cluster Information to verify version mismatch: "
    'Get "https://127.0.0.1:1/apis/crd.projectcalico.org/v1/clusterinformations/default": '
    "dial tcp 127.0.0.1:1: connect: connection refused\nUse --allow-version-mismatch to override"
)
MISMATCH = (
    "failed to get resources: version mismatch.\nClient Version:   v3.31.0\nCluster Version:  3.30.2\n"
    "Use --allow-version-mismatch to override"
)


@pytest.fixture
def provider(sandbox, monkeypatch):
    monkeypatch.setenv("PATH", os.pathsep.join([str(sandbox.bin), "/usr/bin", "/bin"]))
    monkeypatch.setenv("HOME", str(sandbox.home))
    monkeypatch.setenv("TMPDIR", str(sandbox.tmp))
    monkeypatch.setenv("FAKE_CALICOCTL_DIR", str(sandbox.state))
    for name in (
        "KUBECONFIG",
        "FAKE_CALICOCTL_FAIL",
        "FAKE_CALICOCTL_FAIL_MESSAGE",
        "FAKE_CALICOCTL_HANG",
        "FAKE_CALICOCTL_VERSION",
        "PULUMI_K8S_DELETE_UNREACHABLE",
    ):
        monkeypatch.delenv(name, raising=False)
    return CalicoctlPatchProvider()


@pytest.fixture
def warnings(monkeypatch) -> list[str]:
    logged: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: logged.append(message))
    return logged


def props_for(felix_patch, **calicoctl) -> dict:
    """The Felix patch's inputs with these calicoctl settings; timeoutSeconds below the config's 5 s minimum is
    set on the inputs directly (the stand-in's hang must not cost the suite 5 s)."""
    timeout = calicoctl.pop("timeoutSeconds", None)
    props = felix_patch({**KDD, "calico-monitoring:calicoctl": calicoctl}).props
    if timeout is not None:
        props["calicoctl"] = {**props["calicoctl"], "timeoutSeconds": timeout}
    return props


@dataclass(frozen=True)
class Cause:
    """How calicoctl fails to read after a first `up`, what the failure names, and the advice it gives."""

    settings: dict
    fault: Callable[[object, pytest.MonkeyPatch], None]
    reason: str
    remedy: str


def missing(sandbox, monkeypatch):
    sandbox.calicoctl.unlink()


def unreachable(sandbox, monkeypatch):
    monkeypatch.setenv("FAKE_CALICOCTL_FAIL", "get")
    monkeypatch.setenv("FAKE_CALICOCTL_FAIL_MESSAGE", UNREACHABLE)


def hanging(sandbox, monkeypatch):
    monkeypatch.setenv("FAKE_CALICOCTL_HANG", "get")


def mismatched(sandbox, monkeypatch):
    monkeypatch.setenv("FAKE_CALICOCTL_FAIL", "get")
    monkeypatch.setenv("FAKE_CALICOCTL_FAIL_MESSAGE", MISMATCH)


def upgraded(sandbox, monkeypatch):
    monkeypatch.setenv("FAKE_CALICOCTL_VERSION", "v3.31.0")


CAUSES = {
    "calicoctl missing": Cause(
        {},
        missing,
        "calicoctl not found: 'calicoctl' (set calico-monitoring:calicoctl.path)",
        "install calicoctl of the cluster's Calico release on the machine that runs pulumi",
    ),
    "datastore unreachable": Cause(
        {},
        unreachable,
        "calicoctl get felixConfiguration default failed: failed to get resources: unable to get Cluster Information "
        'to verify version mismatch: Get "https://127.0.0.1:1/apis/crd.projectcalico.org/v1/clusterinformations/'
        'default": dial tcp 127.0.0.1:1: connect: connection refused',
        "check the connection calicoctl uses (calico-monitoring:datastore",
    ),
    "timeout": Cause(
        {"timeoutSeconds": 1},
        hanging,
        "calicoctl get felixConfiguration default did not answer within 1 s "
        "(calico-monitoring:calicoctl.timeoutSeconds)",
        "calicoctl keeps retrying a datastore it cannot reach",
    ),
    "version mismatch": Cause(
        {},
        mismatched,
        "calicoctl get felixConfiguration default failed: failed to get resources: version mismatch.\n"
        "Client Version:   v3.31.0\nCluster Version:  3.30.2\nUse --allow-version-mismatch to override",
        "or set calico-monitoring:calicoctl.allowVersionMismatch to true",
    ),
    "calicoctl of another release than calicoctl.version": Cause(
        {"version": "v3.30.2"},
        upgraded,
        "is v3.31.0, but calico-monitoring:calicoctl.version is v3.30.2",
        "put calicoctl of the release calico-monitoring:calicoctl.version names on the machine that runs pulumi",
    ),
}


def after_first_up(provider, sandbox, monkeypatch, felix_patch, cause: Cause, **extra):
    """A stack's first `up` went through; then calicoctl stops reading. The inputs of the next preview."""
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    monkeypatch.setenv("FAKE_CALICOCTL_VERSION", cause.settings.get("version", "v3.31.0"))
    created = provider.create(props_for(felix_patch, **cause.settings))
    cause.fault(sandbox, monkeypatch)
    return created, props_for(felix_patch, **cause.settings, **extra)


@pytest.mark.parametrize("name", sorted(CAUSES))
def test_a_preview_that_cannot_read_fails_naming_the_cause_and_what_to_do(
    provider, sandbox, monkeypatch, felix_patch, warnings, name
):
    cause = CAUSES[name]
    created, news = after_first_up(provider, sandbox, monkeypatch, felix_patch, cause)
    assert changed_inputs(created.outs, news) == []  # nothing but the live read decides
    with pytest.raises(CalicoctlError) as raised:
        provider.diff(created.id, created.outs, news)
    message = str(raised.value)
    assert message.startswith(DRIFT), message
    assert cause.reason in message and cause.remedy in message and WARN_HINT in message, message
    # calicoctl's hint about its version check only where the releases differ.
    assert ("--allow-version-mismatch" in message) is (name == "version mismatch"), message
    assert warnings == []


@pytest.mark.parametrize("name", sorted(CAUSES))
@pytest.mark.parametrize("told_by", ["driftCheck: warn", "PULUMI_K8S_DELETE_UNREACHABLE"])
def test_the_stack_or_the_operator_can_let_it_pass_with_the_warning_of_before(
    provider, sandbox, monkeypatch, felix_patch, warnings, name, told_by
):
    cause = CAUSES[name]
    extra = {"driftCheck": "warn"} if told_by == "driftCheck: warn" else {}
    created, news = after_first_up(provider, sandbox, monkeypatch, felix_patch, cause, **extra)
    if told_by == "PULUMI_K8S_DELETE_UNREACHABLE":
        monkeypatch.setenv("PULUMI_K8S_DELETE_UNREACHABLE", "true")
    assert provider.diff(created.id, created.outs, news).changes is False
    (warning,) = warnings
    assert warning.startswith(DRIFT) and cause.reason in warning, warning


def test_a_refused_read_fails_even_with_driftcheck_warn(provider, sandbox, monkeypatch, felix_patch, warnings):
    from tests.unit.calicoctl.test_provider import FORBIDDEN

    created, news = after_first_up(provider, sandbox, monkeypatch, felix_patch, CAUSES["datastore unreachable"])
    monkeypatch.setenv("FAKE_CALICOCTL_FAIL_MESSAGE", FORBIDDEN)
    with pytest.raises(CalicoctlError, match=r"see rbac/"):
        provider.diff(created.id, created.outs, {**news, "calicoctl": {**news["calicoctl"], "driftCheck": "warn"}})


def test_a_preview_that_shows_an_update_also_fails_when_calicoctl_could_not_run_it(
    provider, sandbox, monkeypatch, felix_patch, warnings
):
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    created = provider.create(props_for(felix_patch))
    nowhere = props_for(felix_patch, path="/opt/nowhere/calicoctl")
    assert changed_inputs(created.outs, nowhere) == ["calicoctl"]
    with pytest.raises(CalicoctlError, match=r"calicoctl not found: '/opt/nowhere/calicoctl'"):
        provider.diff(created.id, created.outs, nowhere)
    warn = props_for(felix_patch, path="/opt/nowhere/calicoctl", driftCheck="warn")
    assert provider.diff(created.id, created.outs, warn).changes is True
    assert len(warnings) == 1


def test_turning_the_warning_on_or_off_is_no_update(provider, sandbox, felix_patch, warnings):
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    created = provider.create(props_for(felix_patch))
    warn = props_for(felix_patch, driftCheck="warn")
    assert warn["calicoctl"]["driftCheck"] == "warn"
    assert changed_inputs(created.outs, warn) == []
    assert provider.diff(created.id, created.outs, warn).changes is False
    assert changed_inputs(provider.create(warn).outs, props_for(felix_patch)) == []


def test_an_existing_stacks_calicoctl_inputs_are_as_release_0_3_wrote_them():
    # Release 0.3's inputs (rendered/ holds them too): a setting added since shows only when it is set.
    assert calicoctl_inputs(CalicoctlSettings()) == {
        "path": "calicoctl",
        "allowVersionMismatch": False,
        "timeoutSeconds": 120,
    }
    settings = CalicoctlSettings(version="v3.31.0", drift_check="warn")
    assert calicoctl_inputs(settings) == {
        "path": "calicoctl",
        "allowVersionMismatch": False,
        "timeoutSeconds": 120,
        "version": "v3.31.0",
        "driftCheck": "warn",
    }


def test_calicoctl_version_is_checked_once_per_step_and_stops_an_up_on_another_release(
    provider, sandbox, monkeypatch, felix_patch
):
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    monkeypatch.setenv("FAKE_CALICOCTL_VERSION", "v3.31.0-0.dev-1-gabc")  # calicoctl compares 3.31.0 only
    provider.create(props_for(felix_patch, version="v3.31.0"))
    verbs = [call["argv"][0] for call in sandbox._new_calls()]
    assert verbs == ["version", "get", "patch", "get"]
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    with pytest.raises(CalicoctlError, match=r"calicoctl at \S+ is v3.31.0-0.dev-1-gabc, but calico-monitoring:"):
        provider.create(props_for(felix_patch, version="v3.30.2"))
    assert [call["argv"][0] for call in sandbox._new_calls()] == ["version"]
    assert sandbox.resource("FelixConfiguration", "default")["spec"] == ORIGINAL


def test_a_calicoctl_that_prints_no_release_does_not_pass_for_calicoctl_version(
    provider, sandbox, monkeypatch, felix_patch
):
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    monkeypatch.setenv("FAKE_CALICOCTL_VERSION", "")
    with pytest.raises(
        CalicoctlError, match=r"is of a release it does not print, but calico-monitoring:calicoctl\.version"
    ):
        provider.create(props_for(felix_patch, version="v3.31.0"))


@pytest.mark.parametrize(
    ("value", "accepted"),
    [("v3.31.0", True), ("v3.31.0-0.dev", True), ("3.31.0", False), ("v3.31", False), ("latest", False)],
)
def test_calicoctl_version_accepts_a_calico_release_tag(value, accepted):
    config = {**KDD, "calico-monitoring:calicoctl": {"version": value}}
    if accepted:
        assert parse_settings(config).calicoctl.version == value
        return
    with pytest.raises(ConfigError) as raised:
        parse_settings(config)
    assert f'calico-monitoring:calicoctl.version: got "{value}"; expected a Calico release such as "v3.31.0"' in str(
        raised.value
    )
    assert 'expected a Calico release such as "v3.31.0"' in str(raised.value)


@pytest.mark.parametrize("value", ["off", "Require", True])
def test_drift_check_accepts_require_or_warn(value):
    config = {
        "calico-monitoring:datastore": {"type": "kubernetes"},
        "calico-monitoring:calicoctl": {"driftCheck": value},
    }
    with pytest.raises(ConfigError) as raised:
        parse_settings(config)
    assert "calico-monitoring:calicoctl.driftCheck" in str(raised.value) and '"require" or "warn"' in str(raised.value)


@pytest.mark.parametrize(
    ("found", "runs"), [("v3.31.0", True), ("v3.31.0-0.dev", True), ("v3.30.2", False), ("", False)]
)
def test_the_rendered_scripts_check_calicoctl_version_too(tmp_path, provider, sandbox, felix_patch, found, runs):
    out = tmp_path / "rendered"
    config = {
        **KDD,
        "calico-monitoring:renderYamlTo": str(out),
        "calico-monitoring:felix": {"scrape": "service"},
        "calico-monitoring:calicoctl": {"version": "v3.31.0"},
    }
    provider.create(felix_patch(config).props)
    sandbox.seed("FelixConfiguration", "default", ORIGINAL)
    script = out / "calicoctl" / "calico-monitoring-felix-calicoctl-patch.apply.sh"
    env = {**os.environ, "FAKE_CALICOCTL_VERSION": found}
    applied = subprocess.run([str(script)], env=env, capture_output=True, text=True, check=False)
    assert (applied.returncode == 0) is runs, applied.stderr
    if not runs:
        expected = f"calicoctl at {sandbox.calicoctl} is {found or 'of a release it does not print'}, but "
        assert expected + "calico-monitoring:calicoctl.version is v3.31.0" in applied.stderr
        assert sandbox.resource("FelixConfiguration", "default")["spec"] == ORIGINAL
