"""The pull-request workflow is valid and refers only to things that exist here."""

import re
import subprocess

import yaml

from evaluator.mock_engine import ROOT

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
