"""Runs one worker process (`python -m fleet.run_one`) per stack, at most ``parallel`` at a time, and collects one
result per stack: a worker that fails or dies becomes its stack's error, and the others go on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

from fleet.results import StackResult
from fleet.run_one import StackJob

# Where the fleet package is importable from, whatever the project folder is.
SOURCE_ROOT = Path(__file__).resolve().parent.parent


class Progress:
    """Which stacks run and which are done, for the live count."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.started_at = time.monotonic()
        self.running: list[str] = []
        self.done: list[StackResult] = []
        self.lock = threading.Lock()

    @property
    def failed(self) -> int:
        return sum(1 for r in self.done if r.failed)


def worker_environment(env: Mapping[str, str], private_tmp: str) -> dict[str, str]:
    """The worker's environment: a TMPDIR of its own (the kubernetes provider copies the kubeconfig into TMPDIR
    and never removes it), and the interpreter of this run for the program's dynamic providers."""
    python_path = [str(SOURCE_ROOT), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
    return {
        **env,
        "TMPDIR": private_tmp,
        "PYTHONPATH": os.pathsep.join(python_path),
        # pulumi-resource-pulumi-python runs `$PULUMI_PYTHON_CMD -m pulumi.dynamic` where no virtualenv is set.
        "PULUMI_PYTHON_CMD": env.get("PULUMI_PYTHON_CMD") or sys.executable,
    }


def run_worker(job: StackJob, env: Mapping[str, str]) -> StackResult:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"fleet-{job.stack}.", ignore_cleanup_errors=True) as private_tmp:
        completed = subprocess.run(
            [sys.executable, "-m", "fleet.run_one"],
            input=json.dumps(asdict(job)),
            capture_output=True,
            text=True,
            cwd=job.work_dir,
            env=worker_environment(env, private_tmp),
            check=False,
        )
    try:
        return StackResult.from_json(json.loads(completed.stdout))
    except (ValueError, TypeError, KeyError):
        said = "\n".join(line for line in completed.stderr.splitlines()[-8:] if line.strip())
        return StackResult(
            job.stack,
            job.action,
            error=f"the worker stopped (exit {completed.returncode}) without a result: {said or 'no output'}",
            seconds=round(time.monotonic() - started, 1),
        )


def run_all(
    jobs: Sequence[StackJob],
    parallel: int,
    env: Mapping[str, str],
    *,
    on_start: Callable[[Progress], None] = lambda progress: None,
    on_done: Callable[[StackResult, Progress], None] = lambda result, progress: None,
    worker: Callable[[StackJob, Mapping[str, str]], StackResult] = run_worker,
) -> list[StackResult]:
    """Every job's result, in the order of ``jobs``."""
    progress = Progress(len(jobs))

    def one(job: StackJob) -> StackResult:
        with progress.lock:
            progress.running.append(job.stack)
        on_start(progress)
        try:
            return worker(job, env)
        except Exception as error:  # a stack's failure is its row, never the run's
            return StackResult(job.stack, job.action, error=f"{type(error).__name__}: {error}")

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [pool.submit(one, job) for job in jobs]
        for future in as_completed(futures):
            result = future.result()
            with progress.lock:
                progress.running.remove(result.stack)
                progress.done.append(result)
            on_done(result, progress)
    by_stack = {r.stack: r for r in progress.done}
    return [by_stack[job.stack] for job in jobs]
