"""The workflow's preview and up jobs install calicoctl of the release each stack names, and the up job can
port-forward to Prometheus for verify: each step's condition, evaluated as GitHub does, and its command, run
with stand-ins for curl, kubectl and uname (nothing is downloaded)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support.github_expressions import condition, render
from tests.unit.test_workflow import github_contexts, pulumi_steps, workflow
from tools.evaluator.mock_engine import ROOT

RELEASES = "https://github.com/projectcalico/calico/releases/download"
# A calicoctl stand-in: what `calicoctl version --client` prints.
CALICOCTL = "#!/bin/sh\necho 'Client Version:    v3.31.0'\n"
# curl's stand-in serves files from $SERVED (named after the URL's last part), logs each URL, and fails as
# curl -f does (22) for a file it does not have.
CURL = """#!/bin/sh
out= url=
while [ $# -gt 0 ]; do
  case "$1" in -o) out=$2; shift ;; -*) ;; *) url=$1 ;; esac
  shift
done
echo "$url" >> "$SERVED/requests"
file="$SERVED/${url##*/}"
[ -f "$file" ] || exit 22
if [ -n "$out" ]; then cp "$file" "$out"; fi
"""
UNAME = "#!/bin/sh\necho x86_64\n"
KUBECTL = """#!/bin/sh
printf '%s\\n' "$@" > "$SERVED/kubectl.args.tmp" && mv "$SERVED/kubectl.args.tmp" "$SERVED/kubectl.args"
"""


def step(job: str, name_start: str) -> dict:
    (found,) = [s for s in workflow()["jobs"][job]["steps"] if s.get("name", "").startswith(name_start)]
    return found


def step_names(job: str) -> list[str]:
    return [s.get("name") or s["uses"] for s in workflow()["jobs"][job]["steps"]]


def executable(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text)
    (folder / name).chmod(0o755)


@pytest.fixture
def runner(tmp_path):
    """A runner's folders: the workspace (.venv as here), RUNNER_TEMP, the served files, stand-in tools."""
    workspace, temp, served, tools = (tmp_path / name for name in ("workspace", "temp", "served", "tools"))
    for folder in (workspace, temp, served, tools):
        folder.mkdir()
    (workspace / ".venv").symlink_to(Path(sys.executable).parent.parent)
    for name, text in (("curl", CURL), ("uname", UNAME), ("kubectl", KUBECTL)):
        executable(tools, name, text)
    return workspace, temp, served, tools


def run_step(runner, found: dict, env: dict[str, str], contexts: dict | None = None) -> subprocess.CompletedProcess:
    workspace, temp, served, tools = runner
    step_env = {name: render(str(value), contexts or {}) for name, value in (found.get("env") or {}).items()}
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", found["run"]],  # GitHub's `run` shell
        cwd=workspace,
        env={
            **step_env,
            **env,
            "PATH": os.pathsep.join([str(tools), "/usr/bin", "/bin"]),
            "PYTHONPATH": str(ROOT),
            "RUNNER_TEMP": str(temp),
            "SERVED": str(served),
            "GITHUB_OUTPUT": str(temp / "github_output"),
            "GITHUB_PATH": str(temp / "github_path"),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("job", ["preview", "up"])
def test_calicoctl_is_installed_before_the_kubeconfig_and_pulumi(job):
    names = step_names(job)
    release = names.index("The calicoctl release this stack needs (calico-monitoring:calicoctl.version)")
    install = names.index("Install calicoctl of that release, its checksum checked against the release's SHA256SUMS")
    (action,) = pulumi_steps(workflow()["jobs"][job])
    assert names.index("Install the program's packages into .venv (Pulumi.yaml points there)") < release
    assert release + 1 == install < names.index("Kubeconfig for this cluster") < names.index(action["uses"])
    assert step(job, "The calicoctl release")["id"] == "calicoctl"


def with_steps(contexts: dict, install: str) -> dict:
    return {**contexts, "steps": {"calicoctl": {"outputs": {"install": install, "version": "v3.31.0"}}}}


@pytest.mark.parametrize("install", ["true", "false"])
def test_the_preview_installs_calicoctl_only_where_the_stack_runs_one_it_can_install(install):
    contexts = with_steps(github_contexts(event="pull_request"), install)
    assert condition(step("preview", "The calicoctl release").get("if"), contexts)
    assert condition(step("preview", "Install calicoctl").get("if"), contexts) is (install == "true")


@pytest.mark.parametrize(
    ("opted_in", "install", "runs"), [("true", "true", True), ("true", "false", False), ("false", "true", False)]
)
def test_the_up_job_installs_calicoctl_only_where_the_stack_opts_in(opted_in, install, runs):
    contexts = with_steps(github_contexts(event="push", vars={"PULUMI_UP_ON_MERGE": opted_in}), install)
    assert condition(step("up", "The calicoctl release").get("if"), contexts) is (opted_in == "true")
    assert condition(step("up", "Install calicoctl").get("if"), contexts) is runs


def write_stack(workspace: Path, config: dict) -> None:
    (workspace / "Pulumi.prod-eu-1.yaml").write_text(yaml.safe_dump({"config": config}))


@pytest.mark.parametrize("job", ["preview", "up"])
def test_the_release_step_reads_the_stack_file_into_step_outputs(runner, job):
    workspace, temp, _, _ = runner
    contexts = github_contexts(event="pull_request")
    write_stack(workspace, {"calico-monitoring:calicoctl": {"version": "v3.31.0"}})
    ran = run_step(runner, step(job, "The calicoctl release"), {}, contexts)
    assert ran.returncode == 0, ran.stderr
    assert (temp / "github_output").read_text() == "install=true\nversion=v3.31.0\nname=calicoctl\n"

    write_stack(workspace, {"calico-monitoring:calicoctl": {"path": "calicoctl"}})
    (temp / "github_output").unlink()
    ran = run_step(runner, step(job, "The calicoctl release"), {}, contexts)
    assert ran.returncode == 1
    assert "::error file=Pulumi.prod-eu-1.yaml::" in ran.stderr and "calicoctl.version is not set" in ran.stderr
    assert (temp / "github_output").read_text() == ""


def serve_release(served: Path, *, checksum: str | None = None, sums: bool = True) -> None:
    (served / "calicoctl-linux-amd64").write_text(CALICOCTL)
    digest = checksum or hashlib.sha256(CALICOCTL.encode()).hexdigest()
    if sums:
        other = hashlib.sha256(b"other").hexdigest()
        (served / "SHA256SUMS").write_text(
            f"{other}  calicoctl-darwin-amd64\n{digest}  calicoctl-linux-amd64\n{other}  calicoctl-linux-amd64.sig\n"
        )


INSTALL_OUTPUTS = {"install": "true", "version": "v3.31.0", "name": "calicoctl"}


@pytest.mark.parametrize("job", ["preview", "up"])
def test_the_install_step_downloads_the_release_checks_its_checksum_and_puts_it_on_path(runner, job):
    _, temp, served, _ = runner
    serve_release(served)
    contexts = {"steps": {"calicoctl": {"outputs": INSTALL_OUTPUTS}}}
    ran = run_step(runner, step(job, "Install calicoctl"), {}, contexts)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (served / "requests").read_text().split() == [
        f"{RELEASES}/v3.31.0/calicoctl-linux-amd64",
        f"{RELEASES}/v3.31.0/SHA256SUMS",
    ]
    folder = temp / "calicoctl-v3.31.0"
    assert (temp / "github_path").read_text() == f"{folder}\n"
    assert os.access(folder / "calicoctl", os.X_OK)
    assert "calicoctl-linux-amd64: OK" in ran.stdout and "Client Version:    v3.31.0" in ran.stdout


@pytest.mark.parametrize(
    ("case", "served_as", "error"),
    [
        ("tampered", {"checksum": "0" * 64}, "::error::calicoctl-linux-amd64 does not match its checksum in"),
        ("no checksums", {"sums": False}, "::error::Calico v3.31.0 publishes no SHA256SUMS"),
        ("not listed", {"checksum": "not-a-sha256"}, "SHA256SUMS lists no calicoctl-linux-amd64"),
    ],
)
def test_the_install_step_fails_and_puts_nothing_on_path_without_a_matching_checksum(runner, case, served_as, error):
    _, temp, served, _ = runner
    serve_release(served, **served_as)
    ran = run_step(
        runner, step("preview", "Install calicoctl"), {}, {"steps": {"calicoctl": {"outputs": INSTALL_OUTPUTS}}}
    )
    assert ran.returncode != 0, case
    assert error in ran.stdout, ran.stdout + ran.stderr
    assert not (temp / "github_path").exists()


def test_an_unknown_release_fails_naming_the_setting(runner):
    ran = run_step(runner, step("up", "Install calicoctl"), {}, {"steps": {"calicoctl": {"outputs": INSTALL_OUTPUTS}}})
    assert ran.returncode != 0
    assert f"::error::cannot download {RELEASES}/v3.31.0/calicoctl-linux-amd64" in ran.stdout
    assert "calico-monitoring:calicoctl.version" in ran.stdout


@pytest.mark.parametrize(
    ("opted_in", "target", "runs"),
    [("true", "monitoring/prometheus-operated:9090", True), ("true", "", False), ("false", "monitoring/p:9090", False)],
)
def test_the_verify_port_forward_runs_only_where_asked(opted_in, target, runs):
    variables = {"PULUMI_UP_ON_MERGE": opted_in, **({"VERIFY_PORT_FORWARD": target} if target else {})}
    contexts = github_contexts(event="push", vars=variables)
    assert condition(step("up", "verify (optional)").get("if"), contexts) is runs
    assert "verify (optional)" not in " ".join(str(s.get("name")) for s in workflow()["jobs"]["preview"]["steps"])


def forwarded_arguments(served: Path) -> list[str]:
    deadline = time.monotonic() + 10  # kubectl runs in the background: wait for its stand-in to record
    while not (served / "kubectl.args").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return (served / "kubectl.args").read_text().splitlines()


def test_the_verify_port_forward_uses_the_stacks_context_and_waits_for_prometheus(runner):
    workspace, _, served, _ = runner
    write_stack(workspace, {"kubernetes:context": "prod-eu-1"})
    (served / "ready").write_text("Prometheus Server is Ready.\n")
    contexts = github_contexts(event="push", vars={"VERIFY_PORT_FORWARD": "monitoring/prometheus-operated:9090"})
    ran = run_step(runner, step("up", "verify (optional)"), {}, contexts)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert forwarded_arguments(served) == [
        "--context", "prod-eu-1", "--namespace", "monitoring", "port-forward", "--address", "127.0.0.1",
        "service/prometheus-operated", "9090:9090",
    ]  # fmt: skip
    assert (served / "requests").read_text().split() == ["http://127.0.0.1:9090/-/ready"]


def test_the_verify_port_forward_fails_on_a_bad_target_or_a_prometheus_that_does_not_answer(runner):
    workspace, _, served, _ = runner
    write_stack(workspace, {})
    contexts = github_contexts(event="push", vars={"VERIFY_PORT_FORWARD": "monitoring/prometheus-operated"})
    ran = run_step(runner, step("up", "verify (optional)"), {}, contexts)
    assert ran.returncode == 1
    assert (
        "::error::VERIFY_PORT_FORWARD is 'monitoring/prometheus-operated'; expected <namespace>/<service>:<port>"
        in (ran.stdout)
    )
    contexts = github_contexts(event="push", vars={"VERIFY_PORT_FORWARD": "monitoring/prometheus-operated:9090"})
    ran = run_step(runner, step("up", "verify (optional)"), {"VERIFY_WAIT_SECONDS": "1"}, contexts)
    assert ran.returncode == 1
    assert "::error::Prometheus at monitoring/prometheus-operated:9090 did not answer" in ran.stdout
    assert forwarded_arguments(served)[:2] == ["--namespace", "monitoring"]  # no context in the stack file


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("vars.UNSET == ''", True),  # an unset variable is null, which GitHub compares with '' as 0 == 0
        ("vars.UNSET != ''", False),
        ("vars.UNSET == 'true'", False),
        ("vars.UNSET != 'true'", True),
        ("vars.SET != ''", True),
        ("'1' == 1", True),
    ],
)
def test_the_expression_stand_in_compares_operands_of_different_types_as_github_does(expression, value):
    assert condition(expression, {"vars": {"SET": "x"}}) is value
