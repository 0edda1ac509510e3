"""`python -m fleet ACTION`: the command line, which stacks, which backend, and what is printed where.

Progress goes to stderr (a line per stack as it finishes; on a terminal, a live count too); the summary table,
or with `--json` the document, goes to stdout. Exit status: 0 all clean, 1 a stack failed (or the run could not
start), 2 changes or drift where `--expect-no-changes` was asked.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from fleet.pool import Progress, run_all
from fleet.report import document, finished_line, live_count, markdown, table
from fleet.results import ACTIONS, StackResult, exit_status
from fleet.run_one import StackJob

STACK_FILE = re.compile(r"^Pulumi\.(?P<name>.+)\.ya?ml$")


class FleetError(Exception):
    """The run cannot start; the message says why and what to do."""


def cluster_stacks(work_dir: Path) -> list[str]:
    """Every stack with a `Pulumi.<stack>.yaml` in the project folder except the examples, by name."""
    names = {m["name"] for p in work_dir.iterdir() if (m := STACK_FILE.match(p.name)) and p.is_file()}
    return sorted(name for name in names if not name.startswith("example-"))


def select_stacks(available: Sequence[str], requested: str | None, work_dir: Path) -> list[str]:
    """``requested`` (names separated by spaces or commas) or, when empty, every cluster stack."""
    if not requested or not requested.strip():
        return list(available)
    names = list(dict.fromkeys(n for n in re.split(r"[\s,]+", requested.strip()) if n))
    files = {m["name"] for p in work_dir.iterdir() if (m := STACK_FILE.match(p.name))}
    unknown = [n for n in names if n not in files]
    if unknown:
        raise FleetError(
            f"no Pulumi.<stack>.yaml for {', '.join(unknown)} in {work_dir}; "
            f"its cluster stacks are: {', '.join(available) or 'none'}"
        )
    return names


def login_exists(env: Mapping[str, str]) -> bool:
    if env.get("PULUMI_ACCESS_TOKEN"):
        return True
    home = Path(env.get("PULUMI_HOME") or Path(env.get("HOME") or Path.home()) / ".pulumi")
    try:
        return bool(json.loads((home / "credentials.json").read_text()).get("current"))
    except (OSError, ValueError, AttributeError):
        return False


def backend_environment(env: Mapping[str, str], work_dir: Path) -> dict[str, str]:
    """The environment with the backend `make up` (bin/pulumi-up) uses: PULUMI_BACKEND_URL, else the login,
    else, when there is none at all, the local file backend in .pulumi-state/."""
    env = dict(env)
    pulumi = shutil.which("pulumi", path=env.get("PATH"))
    if pulumi is None:
        raise FleetError("the Pulumi CLI is not installed (https://www.pulumi.com/docs/install/)")
    if env.get("PULUMI_BACKEND_URL"):
        return env
    whoami = subprocess.run(
        [pulumi, "whoami", "--non-interactive"], env=env, cwd=work_dir, capture_output=True, text=True, check=False
    )
    if whoami.returncode == 0:
        return env
    if login_exists(env):
        said = (whoami.stdout + whoami.stderr).strip()
        raise FleetError(
            f"a Pulumi login exists but `pulumi whoami` failed:\n  {said}\n"
            "  log in again (pulumi login), or set PULUMI_BACKEND_URL to the backend that holds the stacks' state"
        )
    state = work_dir / ".pulumi-state"
    state.mkdir(exist_ok=True)
    env["PULUMI_BACKEND_URL"] = f"file://{state}"
    print(f"fleet: not logged in to a Pulumi backend; keeping state in {env['PULUMI_BACKEND_URL']}", file=sys.stderr)
    return env


class Console:
    """A line per finished stack; on a terminal, the live count rewritten in place every second."""

    def __init__(self, action: str, stream: TextIO) -> None:
        self.action = action
        self.stream = stream
        self.live = stream.isatty()
        self.lock = threading.Lock()
        self.progress: Progress | None = None
        self.stopped = threading.Event()

    def _count(self) -> None:
        progress = self.progress
        if not self.live or progress is None:
            return
        with progress.lock:
            line = live_count(
                self.action,
                len(progress.done),
                progress.failed,
                list(progress.running),
                progress.total,
                time.monotonic() - progress.started_at,
            )
        with self.lock:
            self.stream.write("\r\033[K" + line)
            self.stream.flush()

    def started(self, progress: Progress) -> None:
        self.progress = progress
        self._count()

    def finished(self, result: StackResult, progress: Progress) -> None:
        with self.lock:
            clear = "\r\033[K" if self.live else ""
            self.stream.write(clear + finished_line(result, len(progress.done), progress.total) + "\n")
            self.stream.flush()
        self._count()

    def tick(self) -> None:
        while not self.stopped.wait(1.0):
            self._count()

    def close(self) -> None:
        self.stopped.set()
        if self.live:
            self.stream.write("\r\033[K")
            self.stream.flush()


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse's status 2 is this command's "changes where none were expected".
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(
        prog="python -m fleet",
        description="Run one action over every cluster stack (Pulumi.<stack>.yaml except the examples) at once.",
    )
    parser.add_argument("action", choices=ACTIONS, help="preview, up, drift (a preview-only refresh) or verify")
    parser.add_argument("--stacks", help='only these stacks, e.g. "prod-eu-1 staging" (make: STACKS=)')
    parser.add_argument(
        "--parallel", type=int, default=os.cpu_count() or 1, help="stacks at a time (default: the CPU count)"
    )
    parser.add_argument("--json", action="store_true", help="write the summary as one JSON document on stdout")
    parser.add_argument(
        "--expect-no-changes", action="store_true", help="exit 2 when any stack has changes (preview, up) or drift"
    )
    parser.add_argument("--markdown", metavar="FILE", help="also write the summary as a Markdown table to FILE")
    parser.add_argument("--work-dir", default=".", help="the project folder (Pulumi.yaml): default the current one")
    args = parser.parse_args(argv)
    if args.parallel < 1:
        parser.error("--parallel must be at least 1")
    return args


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = parse(argv)
    work_dir = Path(args.work_dir).resolve()
    try:
        if not (work_dir / "Pulumi.yaml").is_file():
            raise FleetError(f"no Pulumi.yaml in {work_dir}: run it in the project folder or pass --work-dir")
        stacks = select_stacks(cluster_stacks(work_dir), args.stacks, work_dir)
        ambient = os.environ if env is None else env
        # Nothing to run needs no CLI and no backend.
        environment = backend_environment(ambient, work_dir) if stacks else dict(ambient)
    except FleetError as error:
        print(f"fleet: {error}", file=sys.stderr)
        return 1
    started = time.monotonic()
    results = run(args.action, stacks, work_dir, args.parallel, environment)
    seconds = time.monotonic() - started
    if args.markdown:
        Path(args.markdown).write_text(markdown(args.action, results, seconds))
    if args.json:
        summary = document(
            args.action, results, parallel=args.parallel, seconds=seconds, expect_no_changes=args.expect_no_changes
        )
        print(json.dumps(summary, indent=2))
    elif results:
        print(table(results))
    else:
        print(
            f"fleet: no cluster stacks in {work_dir} (a Pulumi.<stack>.yaml other than the examples)", file=sys.stderr
        )
    return exit_status(results, args.expect_no_changes)


def run(action: str, stacks: Iterable[str], work_dir: Path, parallel: int, env: Mapping[str, str]) -> list[StackResult]:
    jobs = [StackJob(stack, action, str(work_dir)) for stack in stacks]
    console = Console(action, sys.stderr)
    ticker = threading.Thread(target=console.tick, daemon=True)
    ticker.start()
    try:
        return run_all(jobs, parallel, env, on_start=console.started, on_done=console.finished)
    finally:
        console.close()
