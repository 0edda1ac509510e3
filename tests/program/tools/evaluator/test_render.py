"""Offline render: committed snapshots match a fresh render, byte for byte."""

import difflib
import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.paths import FIXTURES
from tools.evaluator.mock_engine import (
    ROOT,
    SECRET_PLACEHOLDER,
    EscEnvironments,
    StackEnvironmentError,
    esc_environments,
    load_stack_file,
)
from tools.evaluator.render import all_stacks, render_stack, stacks_with_their_config

EXAMPLES = ["example-etcd", "example-kdd"]


def committed_tree(stack):
    folder = ROOT / "rendered" / stack
    return {str(p.relative_to(folder)): p.read_text(encoding="utf-8") for p in folder.rglob("*") if p.is_file()}


def test_every_example_stack_has_a_snapshot():
    assert set(EXAMPLES) <= set(all_stacks())
    for stack in all_stacks():
        assert (ROOT / "rendered" / stack / "index.md").is_file(), f"no snapshot for {stack}"


@pytest.mark.parametrize("stack", all_stacks())
def test_snapshot_matches_a_fresh_render(stack):
    fresh = render_stack(stack)
    committed = committed_tree(stack)
    problems = []
    for name in sorted(set(fresh) | set(committed)):
        if fresh.get(name) != committed.get(name):
            problems.extend(
                difflib.unified_diff(
                    committed.get(name, "").splitlines(keepends=True),
                    fresh.get(name, "").splitlines(keepends=True),
                    fromfile=f"rendered/{stack}/{name} (committed)",
                    tofile=f"rendered/{stack}/{name} (fresh)",
                )
            )
    assert not problems, (
        f"rendered/{stack} is out of date; refresh it with `make render STACK={stack}` and review the diff:\n"
        + "".join(problems)
    )


def test_render_masks_secrets_and_never_writes_them(tmp_path):
    stack_file = tmp_path / "Pulumi.secretive.yaml"
    stack_file.write_text(
        "config:\n"
        "  kubernetes:context: c\n"
        "  calico-monitoring:datastore:\n"
        "    type: etcdv3\n"
        "    endpoints: [https://10.0.0.1:2379]\n"
        "    username: calico\n"
        "    password:\n"
        "      secure: v1:ENCRYPTEDPASSWORD\n"
    )
    config = load_stack_file("secretive", tmp_path)
    assert config.secret_keys == ("calico-monitoring:datastore",)
    files = render_stack("secretive", tmp_path)
    env = files["calicoctl/calico-monitoring-felix-calicoctl-patch.env"]
    assert f"ETCD_PASSWORD={SECRET_PLACEHOLDER}\n" in env
    assert not any("ENCRYPTEDPASSWORD" in text for text in files.values())


def run_render(*args, cwd, hash_seed="0"):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": hash_seed}
    return subprocess.run(
        [sys.executable, "-m", "tools.evaluator.render", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_render_is_byte_identical_across_runs_and_working_directories(tmp_path):
    # Different working directories and hash seeds (set and dict iteration order) must not matter.
    first = run_render("--out", str(tmp_path / "a"), *EXAMPLES, cwd=ROOT, hash_seed="1")
    second = run_render("--out", str(tmp_path / "b"), *EXAMPLES, cwd=tmp_path, hash_seed="2")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    tree_a = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()}
    tree_b = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in (tmp_path / "b").rglob("*") if p.is_file()}
    assert tree_a == tree_b and tree_a
    assert not any(str(tmp_path).encode() in data or str(ROOT).encode() in data for data in tree_a.values())


def test_render_fails_with_the_config_message(tmp_path):
    (tmp_path / "Pulumi.broken.yaml").write_text("config:\n  calico-monitoring:datastore:\n    type: etcd\n")
    result = run_render("broken", "--stacks-dir", str(tmp_path), "--out", str(tmp_path / "out"), cwd=ROOT)
    assert result.returncode == 1
    assert 'calico-monitoring:datastore.type: got "etcd"; expected "kubernetes" or "etcdv3"' in result.stderr
    assert not (tmp_path / "out").exists()


def test_stack_files_are_read_as_the_cli_reads_them(tmp_path):
    # What the real CLI (v3.274.1) passed to a program for this file: `yes` a string, the date as Go's
    # time text, 010 as octal; only true/false are booleans.
    (tmp_path / "Pulumi.yaml12.yaml").write_text(
        "config:\n"
        "  kubernetes:context: c\n"
        "  calico-monitoring:datastore: {type: kubernetes}\n"
        "  calico-monitoring:dashboards: {enabled: yes, folder: 2024-01-01, n: 010}\n"
        "  calico-monitoring:alerts: {enabled: false}\n"
    )
    config = load_stack_file("yaml12", tmp_path)
    assert json.loads(config.values["calico-monitoring:dashboards"]) == {
        "enabled": "yes",
        "folder": "2024-01-01 00:00:00 +0000 UTC",
        "n": 8,
    }
    assert json.loads(config.values["calico-monitoring:alerts"]) == {"enabled": False}
    result = run_render("yaml12", "--stacks-dir", str(tmp_path), "--out", str(tmp_path / "out"), cwd=ROOT)
    assert result.returncode == 1  # `yes` is not a boolean for the CLI either: the same message in both
    assert 'calico-monitoring:dashboards.enabled: got "yes"; expected true or false' in result.stderr


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            "  calico-monitoring:verify: http://p:9090\n  calico-monitoring:datastore: {type: kubernetes}\n",
            "Stack 'typed' with configuration key 'calico-monitoring:verify' must be of type 'object'",
        ),
        (
            "  calico-monitoring:install: [manifest]\n  calico-monitoring:datastore: {type: kubernetes}\n",
            "Stack 'typed' with configuration key 'calico-monitoring:install' must be of type 'string'",
        ),
        (
            "  calico-monitoring:felix: {}\n",
            "Stack 'typed' is missing configuration value 'calico-monitoring:datastore'",
        ),
    ],
)
def test_stack_files_the_cli_refuses_before_the_program_runs_are_refused_alike(tmp_path, config, message):
    # The CLI's own checks against Pulumi.yaml's declarations (tests/e2e/test_stacks.py sees its wording).
    (tmp_path / "Pulumi.typed.yaml").write_text("config:\n  kubernetes:context: c\n" + config)
    result = run_render("typed", "--stacks-dir", str(tmp_path), "--out", str(tmp_path / "out"), cwd=ROOT)
    assert result.returncode == 1
    assert f"render: stack typed: {message}" in result.stderr


FIXTURE_STACKS = FIXTURES / "stacks"
ESC_STACK_ERROR = (
    "Stack 'esc-prod' takes configuration from the Pulumi ESC environment myorg/prod (`environment:` in "
    "Pulumi.esc-prod.yaml), which the offline evaluator cannot resolve: opening an environment takes the Pulumi "
    "CLI, a Pulumi Cloud login and the right to read it, and the evaluator opens nothing, so the settings the "
    "environment holds are unknown here"
)
ESC_STACK_PAGE = f"""# Stack esc-prod: not rendered

{ESC_STACK_ERROR}.

To render it:

1. Logged in to Pulumi Cloud, get the settings the stack takes from Pulumi ESC: \
`pulumi env open myorg/prod pulumiConfig --format yaml`. Secrets come out in plain text.
2. In a folder outside this repository, write a copy of Pulumi.esc-prod.yaml without `environment:`, with those \
settings under `config:` beside its own.
3. `python -m tools.evaluator.render esc-prod --stacks-dir <that folder> --out <that folder>/rendered`, read the \
result there, and delete the folder.
"""


def test_a_stack_whose_configuration_is_in_esc_says_why_it_cannot_be_evaluated():
    # Not "missing configuration value 'calico-monitoring:datastore'": the datastore is in the environment.
    with pytest.raises(StackEnvironmentError) as error:
        load_stack_file("esc-prod", FIXTURE_STACKS)
    assert str(error.value) == ESC_STACK_ERROR


def test_its_snapshot_is_a_page_saying_how_to_render_it():
    assert render_stack("esc-prod", FIXTURE_STACKS) == {"index.md": ESC_STACK_PAGE}
    # The snapshot tests and the determinism test evaluate only the stacks that hold their whole configuration.
    assert all_stacks(FIXTURE_STACKS) == ["esc-prod"] and stacks_with_their_config(FIXTURE_STACKS) == []
    assert stacks_with_their_config() == all_stacks()


def test_render_all_writes_the_page_and_goes_on(tmp_path):
    result = run_render("--all", "--stacks-dir", str(FIXTURE_STACKS), "--out", str(tmp_path / "out"), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "esc-prod" / "index.md").read_text() == ESC_STACK_PAGE
    assert [p.name for p in (tmp_path / "out" / "esc-prod").iterdir()] == ["index.md"]
    assert result.stderr == (
        f"render: stack esc-prod: its configuration is in Pulumi ESC; {tmp_path / 'out' / 'esc-prod'}/index.md "
        "says how to render it\n"
    )


@pytest.mark.parametrize(
    ("environment", "expected", "said"),
    [
        ("[myorg/common, myorg/prod]", EscEnvironments(("myorg/common", "myorg/prod")),
         "the Pulumi ESC environments myorg/common, myorg/prod"),
        ("myorg/prod", EscEnvironments(("myorg/prod",)), "the Pulumi ESC environment myorg/prod"),
        ("{imports: [myorg/common], values: {pulumiConfig: {a: b}}}", EscEnvironments(("myorg/common",), True),
         "the Pulumi ESC environment myorg/common and a Pulumi ESC environment defined in the stack file"),
        ("{values: {pulumiConfig: {a: b}}}", EscEnvironments((), True),
         "a Pulumi ESC environment defined in the stack file"),
        ("[]", EscEnvironments(), ""),
    ],
)  # fmt: skip
def test_each_form_of_the_environment_key(tmp_path, environment, expected, said):
    (tmp_path / "Pulumi.s.yaml").write_text(f"environment: {environment}\nconfig:\n  kubernetes:context: c\n")
    found = esc_environments(yaml.safe_load((tmp_path / "Pulumi.s.yaml").read_text()))
    assert (found, str(found), bool(found)) == (expected, said, expected != EscEnvironments())
