"""The fleet in CI: the scheduled drift workflow, the fleet action it runs and the pull-request workflow's fleet
summary, pinned, and their steps evaluated as GitHub would run them, with `make` and `gh` standing in."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tools.evaluator.mock_engine import ROOT

DRIFT = ROOT / ".github" / "workflows" / "drift.yml"
FLEET_ACTION = ROOT / ".github" / "actions" / "fleet" / "action.yml"
PULL_REQUEST = ROOT / ".github" / "workflows" / "pull-request.yml"
SHA_PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def drift_job() -> dict:
    return load(DRIFT)["jobs"]["drift"]


def fleet_step() -> dict:
    return next(step for step in load(FLEET_ACTION)["runs"]["steps"] if step.get("id") == "fleet")


def issue_step() -> dict:
    return next(step for step in drift_job()["steps"] if step.get("name", "").startswith("One issue"))


def test_runs_every_day_and_by_hand_with_issue_rights_only_in_its_job():
    workflow = load(DRIFT)
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert "workflow_dispatch" in triggers
    (schedule,) = triggers["schedule"]
    assert len(schedule["cron"].split()) == 5
    assert workflow["permissions"] == {"contents": "read"}
    assert drift_job()["permissions"] == {"contents": "read", "issues": "write"}
    assert drift_job()["environment"] == "fleet"
    assert workflow["concurrency"]["cancel-in-progress"] is False


def every_use(document: dict) -> list[str]:
    steps = [step for job in document.get("jobs", {}).values() for step in job.get("steps", [])]
    steps += document.get("runs", {}).get("steps", [])
    return [step["uses"] for step in steps if "uses" in step]


def test_every_action_is_pinned_by_its_full_commit_or_is_this_repositorys_own():
    uses = every_use(load(DRIFT)) + every_use(load(FLEET_ACTION))
    assert "./.github/actions/fleet" in uses
    for use in uses:
        assert use.startswith("./") or SHA_PINNED.match(use), use
    fleet_jobs = [
        job
        for job in load(PULL_REQUEST)["jobs"].values()
        if "./.github/actions/fleet" in every_use({"jobs": {"j": job}})
    ]
    assert len(fleet_jobs) == 1
    for use in every_use({"jobs": {"fleet": fleet_jobs[0]}}):
        assert use.startswith("./") or SHA_PINNED.match(use), use


def test_the_fleet_action_installs_the_cli_the_e2e_suite_runs_and_runs_a_make_target_that_exists():
    from tests.e2e.cluster import versions

    (pulumi,) = [s for s in load(FLEET_ACTION)["runs"]["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert "command" not in pulumi["with"]  # install only
    assert str(pulumi["with"]["pulumi-version"]) == versions()["PULUMI_VERSION"].removeprefix("v")
    targets = set(re.findall(r"^([A-Za-z][\w-]*):", (ROOT / "Makefile").read_text(), flags=re.M))
    runs = " ".join(step.get("run", "") for step in load(FLEET_ACTION)["runs"]["steps"])
    assert set(re.findall(r"\bmake (?:--[\w-]+ )*(\w[\w-]*)", runs)) <= targets
    assert "make --no-print-directory fleet" in fleet_step()["run"]


FAKE_MAKE = """#!/bin/sh
# make standing in for `make fleet`: records its arguments, writes the canned summary, says the canned document.
printf '%s\\n' "$@" > "$CALLS/make.args"
for argument in "$@"; do
  case "$argument" in
    MARKDOWN=*) [ -n "$FAKE_SUMMARY" ] && printf '%s' "$FAKE_SUMMARY" > "${argument#MARKDOWN=}" ;;
  esac
done
printf '%s' "$FAKE_DOCUMENT"
exit "$FAKE_STATUS"
"""

FAKE_GH = """#!/bin/sh
# gh standing in: records every call (with the body file's text), answers `issue list` with the open issue.
body=""
previous=""
for argument in "$@"; do
  [ "$previous" = "--body-file" ] && body=$(cat "$argument")
  previous=$argument
done
python3 -c 'import json, sys; print(json.dumps({"argv": sys.argv[1:-1], "body": sys.argv[-1]}))' "$@" "$body" \\
  >> "$CALLS/gh.jsonl"
if [ "$1 $2" = "issue list" ]; then printf '%s\\n' "$FAKE_OPEN_ISSUE"; fi
"""


@pytest.fixture
def runner(tmp_path):
    calls = tmp_path / "calls"
    calls.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("make", FAKE_MAKE), ("gh", FAKE_GH)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return tmp_path


def run_step(tmp_path, script, env):
    outputs, summary = tmp_path / "github_output", tmp_path / "step_summary"
    environment = {
        "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin",
        "CALLS": str(tmp_path / "calls"),
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        **env,
    }
    return subprocess.run(["bash", "-e", "-c", script], env=environment, capture_output=True, text=True, check=False)


def test_the_fleet_step_runs_make_fleet_and_hands_on_its_status_document_and_summary(runner):
    from tests.support.github_expressions import render

    env = {name: render(str(value), {"inputs": {"action": "drift"}}) for name, value in fleet_step()["env"].items()}
    done = run_step(
        runner,
        fleet_step()["run"],
        {**env, "FAKE_DOCUMENT": '{"stacks": []}', "FAKE_SUMMARY": "| Stack |\n", "FAKE_STATUS": "2"},
    )
    assert done.returncode == 0, done.stderr
    assert (runner / "calls" / "make.args").read_text().split("\n")[:5] == [
        "--no-print-directory",
        "fleet",
        "ACTION=drift",
        "JSON=1",
        "EXPECT_NO_CHANGES=1",
    ]
    assert (runner / "github_output").read_text() == (
        f"status=2\ndocument={runner / 'fleet.json'}\nsummary={runner / 'fleet.md'}\n"
    )
    assert (runner / "fleet.json").read_text() == '{"stacks": []}'
    assert (runner / "step_summary").read_text() == "| Stack |\n"

    # make fleet that could not start (no summary written) fails the step.
    failed = run_step(runner, fleet_step()["run"], {**env, "FAKE_DOCUMENT": "", "FAKE_SUMMARY": "", "FAKE_STATUS": "1"})
    assert failed.returncode == 1
    assert "make fleet ACTION=drift did not run (exit 1)" in failed.stdout


def fleet_document(*stacks):
    return {
        "action": "drift",
        "stacks": [{"stack": name, "drift": drift, "error": error} for name, drift, error in stacks],
    }


def run_issue_step(runner, document, status, open_issue=""):
    from tests.support.github_expressions import render

    (runner / "doc.json").write_text(json.dumps(document))
    (runner / "summary.md").write_text("| Stack | Drift |\n")
    contexts = {
        "github": {
            "token": "t",
            "repository": "acme/calico-monitoring",
            "server_url": "https://github.com",
            "run_id": "42",
        },
        "steps": {
            "fleet": {
                "outputs": {
                    "status": str(status),
                    "document": str(runner / "doc.json"),
                    "summary": str(runner / "summary.md"),
                }
            }
        },
    }
    env = {name: render(str(value), contexts) for name, value in issue_step()["env"].items()}
    assert env["RUN_URL"] == "https://github.com/acme/calico-monitoring/actions/runs/42"
    done = run_step(runner, issue_step()["run"], {**env, "FAKE_OPEN_ISSUE": open_issue})
    log = runner / "calls" / "gh.jsonl"
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    log.unlink(missing_ok=True)
    return done, calls


DRIFTED = ("prod-us-1", [{"resource": "PodMonitor monitoring/felix", "op": "delete", "fields": []}], None)
CLEAN = ("prod-eu-1", [], None)
UNREACHABLE = ("staging", [], "configured Kubernetes cluster is unreachable")


def test_drift_opens_one_issue_listing_the_drifted_clusters(runner):
    done, calls = run_issue_step(runner, fleet_document(DRIFTED, CLEAN), 2)
    assert done.returncode == 0, done.stderr
    assert [c["argv"][:2] for c in calls] == [["issue", "list"], ["label", "create"], ["issue", "create"]]
    create = calls[-1]
    assert create["argv"][2:6] == ["--title", "Drift: clusters changed since their last pulumi up", "--label", "drift"]
    assert create["body"].startswith("**Drifted since their last `pulumi up`:** prod-us-1.\n")
    assert 'make fleet ACTION=up STACKS="prod-us-1"' in create["body"]
    assert "| Stack | Drift |" in create["body"] and "prod-eu-1" not in create["body"].split("| Stack")[0]


def test_drift_updates_the_open_issue_instead_of_opening_another(runner):
    done, calls = run_issue_step(runner, fleet_document(DRIFTED), 2, open_issue="7")
    assert done.returncode == 0, done.stderr
    assert [c["argv"][:3] for c in calls] == [["issue", "list", "--label"], ["issue", "edit", "7"]]


def test_no_drift_left_closes_the_issue_and_none_open_does_nothing(runner):
    done, calls = run_issue_step(runner, fleet_document(CLEAN), 0, open_issue="7")
    assert done.returncode == 0, done.stderr
    assert calls[-1]["argv"][:3] == ["issue", "close", "7"]
    assert "No drift left" in calls[-1]["argv"][4]
    done, calls = run_issue_step(runner, fleet_document(CLEAN), 0)
    assert done.returncode == 0, done.stderr
    assert [c["argv"][:2] for c in calls] == [["issue", "list"]]


def test_a_cluster_that_could_not_be_checked_is_listed_and_fails_the_run(runner):
    done, calls = run_issue_step(runner, fleet_document(DRIFTED, UNREACHABLE), 1)
    assert done.returncode == 1
    assert "make fleet could not check every stack: staging" in done.stdout
    body = calls[-1]["body"]
    assert "**Drifted since their last `pulumi up`:** prod-us-1." in body
    assert "**Could not be checked:** staging" in body


def fleet_summary_job() -> dict:
    return load(PULL_REQUEST)["jobs"]["fleet-summary"]


def test_the_fleet_summary_runs_where_the_per_stack_previews_run():
    from tests.unit.test_workflow import github_contexts, jobs_that_run

    for contexts in (
        github_contexts(event="pull_request"),
        github_contexts(event="pull_request", fork=True),
        github_contexts(event="pull_request", actor="dependabot[bot]"),
        github_contexts(event="push", vars={"PULUMI_UP_ON_MERGE": "true"}),
    ):
        running = jobs_that_run(contexts)
        assert ("fleet-summary" in running) is ("preview" in running), contexts
    assert fleet_summary_job()["needs"] == load(PULL_REQUEST)["jobs"]["preview"]["needs"]
    assert fleet_summary_job()["permissions"] == {"contents": "read", "pull-requests": "write"}


FAKE_GH_API = """#!/bin/sh
# gh api standing in: records each call with the file a -F body=@FILE names, lists $FAKE_COMMENT as a comment.
body=""
for argument in "$@"; do
  case "$argument" in body=@*) body=$(cat "${argument#body=@}") ;; esac
done
python3 -c 'import json, sys; print(json.dumps({"argv": sys.argv[1:-1], "body": sys.argv[-1]}))' "$@" "$body" \\
  >> "$CALLS/gh.jsonl"
case "$*" in
  *--paginate*) [ -n "$FAKE_COMMENT" ] && echo "$FAKE_COMMENT" ;;
  *-X\\ PATCH*) ;;
  *) echo 1001 ;;
esac
"""


def run_summary_step(runner, name, env):
    from tests.support.github_expressions import render

    (runner / "bin" / "gh").write_text(FAKE_GH_API)
    job = fleet_summary_job()
    step = next(s for s in job["steps"] if s.get("name", "").startswith(name))
    contexts = {
        "github": {
            "token": "t",
            "repository": "acme/calico-monitoring",
            "event": {"pull_request": {"number": 12}},
            "server_url": "https://github.com",
            "run_id": "42",
        },
        "steps": env.pop("steps", {}),
    }
    rendered = {k: render(str(v), contexts) for k, v in {**job["env"], **step.get("env", {})}.items()}
    done = run_step(runner, step["run"], {**rendered, **env})
    log = runner / "calls" / "gh.jsonl"
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    log.unlink(missing_ok=True)
    return done, calls


def test_the_fleet_summary_comment_is_placed_first_then_edited_in_place(runner):
    done, calls = run_summary_step(runner, "The fleet summary's comment", {"FAKE_COMMENT": ""})
    assert done.returncode == 0, done.stderr
    assert calls[0]["argv"][:3] == ["api", "--paginate", "repos/acme/calico-monitoring/issues/12/comments"]
    assert calls[1]["argv"][:2] == ["api", "repos/acme/calico-monitoring/issues/12/comments"]
    assert calls[1]["body"] == "<!-- calico-monitoring: fleet summary -->\n### `make fleet ACTION=preview`: running"
    assert (runner / "github_output").read_text() == "id=1001\n"

    (runner / "github_output").unlink()
    done, calls = run_summary_step(runner, "The fleet summary's comment", {"FAKE_COMMENT": "77"})
    assert done.returncode == 0, done.stderr
    assert len(calls) == 1  # an earlier push's comment is reused
    assert (runner / "github_output").read_text() == "id=77\n"

    (runner / "summary.md").write_text("### `make fleet ACTION=preview`: 2 stacks, 1 with changes (9 s)\n")
    steps = {"comment": {"outputs": {"id": "77"}}, "fleet": {"outputs": {"summary": str(runner / "summary.md")}}}
    done, calls = run_summary_step(runner, "The fleet summary into", {"steps": steps})
    assert done.returncode == 0, done.stderr
    (patch,) = calls
    assert patch["argv"][:4] == ["api", "-X", "PATCH", "repos/acme/calico-monitoring/issues/comments/77"]
    assert patch["body"].splitlines()[:2] == [
        "<!-- calico-monitoring: fleet summary -->",
        "### `make fleet ACTION=preview`: 2 stacks, 1 with changes (9 s)",
    ]
    assert "https://github.com/acme/calico-monitoring/actions/runs/42" in patch["body"]
