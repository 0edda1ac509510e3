"""What the e2e scenarios measure, printed at the end of `make e2e`.

A module of its own: pytest imports conftest.py under its own name, and scenarios that
import from tests.e2e.conftest get a second copy of it; both copies share this one.

On parallel workers (pytest-xdist) each worker fills its own lists and hands them to the
controller when it finishes (``for_controller``, ``add_from_worker``); the controller prints
the summary once.
"""

from __future__ import annotations

from typing import Any

# (scenario, pulumi command, seconds) of every program command the Stack helper ran.
TIMINGS: list[tuple[str, str, float]] = []
# One line per figure a scenario reports (rollouts, times at scale).
FIGURES: list[str] = []


def for_controller() -> dict[str, Any]:
    """This worker's measurements, for pytest-xdist's ``workeroutput``."""
    return {"e2e_timings": [list(timing) for timing in TIMINGS], "e2e_figures": list(FIGURES)}


def add_from_worker(output: dict[str, Any]) -> None:
    """A finished worker's measurements, added to the controller's own."""
    TIMINGS.extend((scenario, command, seconds) for scenario, command, seconds in output.get("e2e_timings", []))
    FIGURES.extend(output.get("e2e_figures", []))


def summary(passed: int, failed: int) -> list[str]:
    """The closing lines: every figure, then the scenarios and the wall time of each Pulumi command."""
    lines = [f"e2e figure: {figure}" for figure in FIGURES]
    if not TIMINGS:
        return lines
    by_command: dict[str, list[float]] = {}
    for _, command, seconds in TIMINGS:
        by_command.setdefault(command, []).append(seconds)
    commands = ", ".join(
        f"{command} {len(times)} runs, mean {sum(times) / len(times):.1f} s max {max(times):.1f} s"
        for command, times in sorted(by_command.items())
    )
    return [*lines, f"e2e: {passed} scenarios passed, {failed} failed; pulumi {commands}"]
