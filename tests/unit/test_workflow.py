"""The pull-request workflow is valid and refers only to things that exist here."""

import re
import subprocess

import pytest
import yaml

from tools.evaluator.mock_engine import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "pull-request.yml"


def workflow():
    return yaml.safe_load(WORKFLOW.read_text())


def run_lines():
    for job in workflow()["jobs"].values():
        for step in job.get("steps", []):
            if "run" in step:
                yield step["run"]


def test_make_targets_used_by_the_workflow_exist():
    targets = set(re.findall(r"^([A-Za-z][\w-]*):", (ROOT / "Makefile").read_text(), flags=re.M))
    used = {m for run in run_lines() for m in re.findall(r"\bmake (\w[\w-]*)", run)}
    assert used, "the workflow should run make targets"
    assert used <= targets, f"unknown make targets: {used - targets}"


def test_tests_render_check_and_preview_per_stack():
    jobs = workflow()["jobs"]
    test_runs = " ".join(step.get("run", "") for step in jobs["test"]["steps"])
    assert "make test" in test_runs and "make render" in test_runs and "git diff --exit-code -- rendered/" in test_runs
    preview = jobs["preview"]
    assert preview["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.names) }}"
    action = next(step for step in preview["steps"] if step.get("uses", "").startswith("pulumi/actions@"))
    assert action["with"]["command"] == "preview"
    assert action["with"]["comment-on-pr"] is True
    assert "head.repo.full_name == github.repository" in preview["if"]
    assert "head.repo.full_name != github.repository" in jobs["preview-skipped"]["if"]


def test_stack_listing_finds_cluster_stacks_but_not_examples(tmp_path):
    step = next(s for s in workflow()["jobs"]["stacks"]["steps"] if s.get("id") == "list")
    for name in ("example-kdd", "example-etcd", "prod-eu-1", "staging"):
        (tmp_path / f"Pulumi.{name}.yaml").write_text("config: {}\n")
    output = tmp_path / "github_output"
    subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=tmp_path,
        env={"GITHUB_OUTPUT": str(output), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert output.read_text() == 'names=["prod-eu-1", "staging"]\n'


def pulumi_steps(job: dict) -> list[dict]:
    return [step for step in job["steps"] if step.get("uses", "").startswith("pulumi/actions@")]


def test_every_pulumi_step_pins_the_cli_the_e2e_suite_runs():
    from tests.e2e.cluster import versions

    pinned = versions()["PULUMI_VERSION"].removeprefix("v")
    steps = [step for job in workflow()["jobs"].values() for step in pulumi_steps(job)]
    assert {step["with"]["command"] for step in steps} == {"preview", "up"}
    for step in steps:
        assert str(step["with"].get("pulumi-version")) == pinned, step


def github_contexts(*, event: str, actor: str = "alice", fork: bool = False, ref: str = "refs/heads/main", vars=None):
    contexts = {
        "github": {"event_name": event, "actor": actor, "repository": "acme/calico-monitoring", "ref": ref},
        "needs": {"stacks": {"outputs": {"names": '["prod-eu-1"]'}}},
        "matrix": {"stack": "prod-eu-1"},
        "vars": vars or {},
    }
    if event == "pull_request":
        head = "someone/calico-monitoring" if fork else "acme/calico-monitoring"
        contexts["github"]["event"] = {"pull_request": {"head": {"repo": {"full_name": head}}}}
    return contexts


def jobs_that_run(contexts: dict) -> set[str]:
    from tests.support.github_expressions import condition

    return {name for name, job in workflow()["jobs"].items() if condition(job.get("if"), contexts)}


@pytest.mark.parametrize(
    ("case", "contexts", "preview"),
    [
        ("a branch of this repository", github_contexts(event="pull_request"), True),
        ("a fork", github_contexts(event="pull_request", fork=True), False),
        ("Dependabot", github_contexts(event="pull_request", actor="dependabot[bot]"), False),
        ("Renovate", github_contexts(event="pull_request", actor="renovate[bot]"), False),
    ],
)
def test_previews_only_where_secrets_are_available_and_say_why_elsewhere(tmp_path, case, contexts, preview):
    from tests.support.github_expressions import render

    running = jobs_that_run(contexts)
    assert ("preview" in running) is preview, case
    assert ("preview-skipped" in running) is not preview, case
    assert "up" not in running
    if preview:
        return
    (note,) = workflow()["jobs"]["preview-skipped"]["steps"]
    summary = tmp_path / "summary.md"
    env = {name: render(str(value), contexts) for name, value in note["env"].items()}
    subprocess.run(
        ["bash", "-e", "-c", note["run"]],
        env={**env, "GITHUB_STEP_SUMMARY": str(summary), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    text = summary.read_text()
    assert text.startswith("### pulumi preview skipped\n")
    assert ("fork" in text) if case == "a fork" else (contexts["github"]["actor"] in text), text


@pytest.mark.parametrize(
    ("case", "contexts", "applies"),
    [
        ("merge, opted in", github_contexts(event="push", vars={"PULUMI_UP_ON_MERGE": "true"}), True),
        ("merge, not opted in", github_contexts(event="push"), False),
        ("merge, opted out", github_contexts(event="push", vars={"PULUMI_UP_ON_MERGE": "false"}), False),
        (
            "another branch",
            github_contexts(event="push", ref="refs/heads/x", vars={"PULUMI_UP_ON_MERGE": "true"}),
            None,
        ),
        ("a pull request", github_contexts(event="pull_request", vars={"PULUMI_UP_ON_MERGE": "true"}), None),
    ],
)
def test_up_on_merge_to_main_only_where_the_stack_opts_in(case, contexts, applies):
    from tests.support.github_expressions import condition, render

    job = workflow()["jobs"]["up"]
    assert ("up" in jobs_that_run(contexts)) is (applies is not None), case
    if applies is None:
        return
    assert render(job["environment"], contexts) == "prod-eu-1-up"
    assert job["concurrency"]["cancel-in-progress"] is False
    assert render(job["concurrency"]["group"], contexts) == "pulumi-up-prod-eu-1"
    ran = [step for step in job["steps"] if condition(step.get("if"), contexts)]
    (action,) = pulumi_steps(job)
    assert (action in ran) is applies, case
    assert action["with"]["command"] == "up" and action["with"]["stack-name"] == "${{ matrix.stack }}"
    # Not opted in: the summary note and nothing else (no checkout, no credentials written).
    assert (len(ran) == 1 and ran[0]["name"] == "Not opted in") is (not applies), [s.get("name") for s in ran]
