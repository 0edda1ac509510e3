"""One stack's fleet action, in a process of its own (the Pulumi runtime keeps global state per process).

    python -m fleet.run_one < job.json        the result (fleet.results.StackResult) as JSON on stdout

The Automation API runs the project's own `__main__.py` as an inline program: its language runtime serves the
program from this process and the real Pulumi CLI runs against it (`--client`), with the stack's
`Pulumi.<stack>.yaml` from the project folder and the backend, secrets provider and plugins of whoever runs it.
Anything else written to stdout (the program's own prints) goes to stderr, so stdout carries the result only.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.automation import LocalWorkspace, Stack
from pulumi.automation.errors import CommandError, StackNotFoundError
from pulumi.automation.events import EngineEvent

from builders.plan import StackPlan, plan_stack
from components.verification import read_scrape_targets
from configuration import ConfigError, Settings, parse_settings
from fleet.cluster import api_server, calico_versions
from fleet.results import (
    StackResult,
    change_counts,
    drift_counts,
    drifted,
    restarted_workloads,
    targets_error,
)
from fleet.steps import Step, step_from
from verification.prometheus_targets import expected_jobs

# How long `verify` polls Prometheus: a look at the targets now, not a wait for a rollout (that is `up`'s).
VERIFY_SECONDS = 10.0


@dataclass(frozen=True)
class StackJob:
    stack: str
    action: str
    work_dir: str


class SideBySideWorkspace(LocalWorkspace):
    """A LocalWorkspace that never selects a stack. `pulumi stack select` records the project folder's current
    stack in PULUMI_HOME; the stacks of a fleet run side by side in one folder, every command names its own
    (`--stack`), and the stack the user had selected stays selected."""

    def select_stack(self, stack_name: str) -> None:
        return None


class EventLog:
    """The engine's events of one operation: each resource's step, and the error diagnostics."""

    def __init__(self, refresh: bool) -> None:
        # A refresh's outcome per resource (same, update, delete) comes with its outputs event; other
        # operations say what they do before they do it.
        self.refresh = refresh
        self.steps: list[Step] = []
        self.errors: list[str] = []

    def __call__(self, event: EngineEvent) -> None:
        diagnostic = event.diagnostic_event
        if diagnostic is not None and diagnostic.severity == "error" and diagnostic.message.strip():
            self.errors.append(diagnostic.message.strip())
        payload = event.res_outputs_event if self.refresh else event.resource_pre_event
        if payload is not None and payload.metadata is not None:
            self.steps.append(step_from(payload.metadata))


def project_program(work_dir: Path) -> Callable[[], None]:
    """The project's `__main__.py`, run as the Python language host runs it."""
    main = work_dir / "__main__.py"

    def program() -> None:
        runpy.run_path(str(main), run_name="__main__")

    return program


def stack_settings(workspace: LocalWorkspace, stack: str) -> Settings:
    config = workspace.get_all_config(stack)
    values = {key: item.value for key, item in config.items()}
    return parse_settings(values, {key for key, item in config.items() if item.secret})


def error_text(error: Exception, log: EventLog | None) -> str:
    """The engine's own error diagnostics when there are any, else the end of what the CLI said."""
    if log is not None and log.errors:
        return "\n".join(dict.fromkeys(log.errors))
    if isinstance(error, CommandError):
        # str(CommandError) is "code: N / stdout: ... / stderr: ...": the CLI's own error is in stderr.
        said = str(error)
        stderr = said.split("\n stderr: ", 1)[1] if "\n stderr: " in said else said
        lines = [line.strip() for line in stderr.splitlines() if line.strip()] or [said.strip()]
        return "\n".join(lines[-6:])
    return f"{type(error).__name__}: {error}"


# preview and up refresh first (`--refresh`, as Pulumi Deployments' drift remediation runs `up`): without it, an
# object deleted by hand stays in the state and `up` never puts it back.


def preview(stack: Stack, plan: StackPlan, result: StackResult, log: EventLog) -> None:
    outcome = stack.preview(on_event=log, color="never", refresh=True)
    result.changes = change_counts(outcome.change_summary)
    result.restarts = restarted_workloads(plan, log.steps)


def up(stack: Stack, plan: StackPlan, result: StackResult, log: EventLog) -> None:
    outcome = stack.up(on_event=log, color="never", refresh=True)
    result.changes = change_counts(outcome.summary.resource_changes)
    result.restarts = restarted_workloads(plan, log.steps)
    targets = outcome.outputs.get("scrapeTargets")
    if targets is not None and isinstance(targets.value, dict):
        result.targets = targets.value


def drift(stack: Stack, plan: StackPlan, result: StackResult, log: EventLog) -> None:
    state = stack.export_stack().deployment or {}
    resources = state.get("resources") or []
    managed = [r for r in resources if r.get("custom") and not r.get("external")]
    if not any(not str(r.get("type", "")).startswith("pulumi:providers:") for r in managed):
        result.error = "nothing to compare: the stack has no resources yet (run up first)"
        return
    reads = [r["urn"] for r in resources if r.get("external")]
    stack.preview_refresh(on_event=log, color="never")
    result.drift = drifted(log.steps, reads)
    result.changes = drift_counts(result.drift)


def verify(
    stack: Stack, plan: StackPlan, result: StackResult, settings: Settings, seconds: float = VERIFY_SECONDS
) -> None:
    """The targets Prometheus has up now, against the numbers the last `up` expected (its `scrapeTargets`)."""
    if settings.verify is None:
        return
    output = stack.outputs().get("scrapeTargets")
    recorded: dict[str, Any] = output.value if output is not None and isinstance(output.value, dict) else {}
    expected = {component: recorded.get(job, {}).get("expected") for component, job in plan.jobs.items()}
    unknown = sorted(job for component, job in plan.jobs.items() if expected[component] is None)
    if unknown:
        result.error = f"no scrapeTargets output for {', '.join(unknown)}: run up (with verify set) first"
        return
    # Reached as `up` reaches it (URL, token, CA, or the API server's service proxy), for a short look.
    look = settings.verify.model_copy(update={"timeout_seconds": seconds})
    try:
        verification = read_scrape_targets(look, settings.kubernetes, expected_jobs(plan, expected))
    except pulumi.RunError as error:
        result.error = str(error)
        return
    if verification.error is not None:
        result.error = verification.message()
        return
    result.targets = verification.summary
    result.error = targets_error(result.targets)


OPERATIONS = {"preview": preview, "up": up, "drift": drift}


def run(job: StackJob) -> StackResult:
    started = time.monotonic()
    result = StackResult(job.stack, job.action)
    work_dir = Path(job.work_dir).resolve()
    log = None
    versions: dict[str, tuple[str | None, str | None]] = {}
    reader = None
    try:
        workspace = SideBySideWorkspace(
            work_dir=str(work_dir),
            program=project_program(work_dir),
            # PULUMI_SKIP_CONFIRMATIONS=true (usual in CI) makes the CLI add --yes, which it refuses beside
            # `refresh --preview-only`; every operation here says what it confirms itself.
            env_vars={"PULUMI_SKIP_CONFIRMATIONS": "false"},
        )
        stack = Stack.select(job.stack, workspace)
        try:
            settings = stack_settings(workspace, job.stack)
        except StackNotFoundError:
            if job.action != "up":
                raise
            workspace.create_stack(job.stack)
            settings = stack_settings(workspace, job.stack)
        result.cluster = api_server(settings)
        reader = threading.Thread(target=lambda: versions.update(seen=calico_versions(settings)), daemon=True)
        reader.start()
        plan = plan_stack(settings)
        if job.action == "verify":
            verify(stack, plan, result, settings)
        else:
            log = EventLog(refresh=job.action == "drift")
            OPERATIONS[job.action](stack, plan, result, log)
    except ConfigError as error:
        result.error = str(error)
    except Exception as error:  # one stack's failure is its row's error, whatever it is
        result.error = error_text(error, log)
    if reader is not None:
        reader.join()
    result.calico_version, result.calicoctl_version = versions.get("seen", (None, None))
    result.seconds = round(time.monotonic() - started, 1)
    return result


def main() -> int:
    job = StackJob(**json.load(sys.stdin))
    # The result goes to the original stdout; anything else printed meanwhile goes to stderr.
    result_stream = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    result = run(job)
    json.dump(result.to_json(), result_stream)
    result_stream.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
