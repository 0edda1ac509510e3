"""The project files users touch: Pulumi.yaml declares the whole config contract, and
bin/pulumi-up runs `pulumi up` with a local state backend when nobody is logged in."""

import os
import subprocess

import yaml

from configuration import Settings, parse_settings
from tools.evaluator.bench import bare_program
from tools.evaluator.mock_engine import ROOT, Evaluation, evaluate, load_stack_file


def test_pulumi_yaml_declares_every_setting_with_a_description():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "calico-monitoring"
    declared = project["config"]
    accepted = {f"calico-monitoring:{key}" for key in Settings.listed_keys()}
    assert set(declared) == accepted
    for key, declaration in declared.items():
        assert declaration.get("description"), key
    # Only the datastore is required: every other key has a default, so stacks may leave it out.
    assert [key for key, d in declared.items() if "default" not in d] == ["calico-monitoring:datastore"]
    defaults = {key: d["default"] for key, d in declared.items() if "default" in d}
    stack = load_stack_file("example-kdd").values
    assert parse_settings({**{k: v if isinstance(v, str) else "{}" for k, v in defaults.items()}, **stack})


FAKE_PULUMI = """#!/bin/sh
printf '%s|%s\\n' "$*" "${PULUMI_BACKEND_URL:-}" >> "$FAKE_LOG"
[ "$1" = whoami ] && [ -z "${FAKE_LOGGED_IN:-}" ] && { echo "${FAKE_WHOAMI_ERROR:-error: not logged in}" >&2; exit 1; }
exit 0
"""
# What `pulumi whoami` says when the stored token was revoked or expired.
EXPIRED_TOKEN = "error: getting user info: [401] Unauthorized: No credentials provided or are invalid."


def run_pulumi_up(tmp_path, stack="example-kdd", **env):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / "pulumi").write_text(FAKE_PULUMI)
    (bin_dir / "pulumi").chmod(0o755)
    log = tmp_path / "calls.log"
    log.touch()
    environment = {"PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE_LOG": str(log), "HOME": str(tmp_path), **env}
    result = subprocess.run(
        [str(ROOT / "bin" / "pulumi-up"), stack, "--yes"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    return result, log.read_text().splitlines()


def test_pulumi_up_uses_a_local_backend_when_not_logged_in(tmp_path):
    result, calls = run_pulumi_up(tmp_path)
    assert result.returncode == 0, result.stderr
    backend = f"file://{ROOT}/.pulumi-state"
    assert calls == [
        "whoami --non-interactive|",
        f"stack select --create example-kdd --non-interactive|{backend}",
        f"up --stack example-kdd --yes|{backend}",
    ]
    assert "keeping state in" in result.stderr


def test_pulumi_up_keeps_an_existing_login_or_backend(tmp_path):
    _, calls = run_pulumi_up(tmp_path, FAKE_LOGGED_IN="1")
    assert calls[-1] == "up --stack example-kdd --yes|"
    _, calls = run_pulumi_up(tmp_path, PULUMI_BACKEND_URL="s3://state-bucket")
    assert calls[-1] == "up --stack example-kdd --yes|s3://state-bucket"


def test_pulumi_up_refuses_a_stack_without_its_stack_file(tmp_path):
    result, calls = run_pulumi_up(tmp_path, stack="prod-eu-1")
    assert result.returncode == 2
    assert "there is no Pulumi.prod-eu-1.yaml" in result.stderr and "Pulumi.example-kdd.yaml" in result.stderr
    assert calls == []


def test_pulumi_up_does_not_fall_back_to_local_state_when_a_login_fails(tmp_path):
    home = tmp_path / "pulumi-home"
    home.mkdir()
    (home / "credentials.json").write_text(
        '{"current": "https://api.pulumi.com", "accessTokens": {"https://api.pulumi.com": "pul-expired"}}'
    )
    result, calls = run_pulumi_up(tmp_path, PULUMI_HOME=str(home), FAKE_WHOAMI_ERROR=EXPIRED_TOKEN)
    assert result.returncode == 1
    assert "a Pulumi login exists but `pulumi whoami` failed" in result.stderr and "[401]" in result.stderr
    assert "pul-expired" not in result.stderr
    assert calls == ["whoami --non-interactive|"], "nothing may run against another backend"
    result, calls = run_pulumi_up(
        tmp_path / "token", PULUMI_ACCESS_TOKEN="pul-revoked", FAKE_WHOAMI_ERROR=EXPIRED_TOKEN
    )
    assert result.returncode == 1 and calls == ["whoami --non-interactive|"]


def test_pulumi_up_without_the_cli_says_so(tmp_path):
    result = subprocess.run(
        [str(ROOT / "bin" / "pulumi-up"), "example-kdd"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    if os.path.exists("/usr/bin/pulumi"):  # a machine with the real CLI installed system-wide
        return
    assert result.returncode == 127 and "Pulumi CLI is not installed" in result.stderr


def test_the_benchmark_baseline_registers_the_same_resources():
    config = load_stack_file("example-operator")
    program = evaluate(config.values, config.secret_keys)
    bare = evaluate(config.values, config.secret_keys, program=bare_program(program.registrations), into=Evaluation())
    assert sorted((r.type, r.name, r.parent) for r in bare.registrations) == sorted(
        (r.type, r.name, r.parent) for r in program.registrations
    )
