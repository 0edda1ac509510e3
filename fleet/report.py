"""How a fleet run is shown: one line per stack as it finishes, the live count, the summary table and the
`--json` document. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fleet.results import StackResult, exit_status

COLUMNS = ("STACK", "CLUSTER", "CALICO", "CALICOCTL", "CHANGES", "RESTARTS", "DRIFT", "TARGETS UP", "ERROR")
ERROR_WIDTH = 100
NONE = "-"


def changes_cell(result: StackResult) -> str:
    if result.failed and not result.changes:
        return NONE
    return ", ".join(f"{count} {kind}" for kind, count in result.changes.items()) or "none"


def restarts_cell(result: StackResult) -> str:
    # "DaemonSet kube-system/calico-node" -> "calico-node": the kind and namespace are in the --json document.
    return ", ".join(workload.rsplit("/", 1)[-1] for workload in result.restarts) or NONE


def drift_cell(result: StackResult) -> str:
    if result.action != "drift" or (result.failed and not result.drift):
        return NONE
    return "; ".join(str(item) for item in result.drift) or "none"


def targets_cell(result: StackResult) -> str:
    if not result.targets:
        return NONE
    return ", ".join(f"{job} {t.get('up', 0)}/{t.get('expected', 0)}" for job, t in sorted(result.targets.items()))


def error_cell(result: StackResult) -> str:
    if result.error is None:
        return NONE
    first = next((line.strip() for line in result.error.splitlines() if line.strip()), "failed")
    return first if len(first) <= ERROR_WIDTH else first[: ERROR_WIDTH - 3] + "..."


def row(result: StackResult) -> tuple[str, ...]:
    return (
        result.stack,
        result.cluster or "?",
        result.calico_version or "?",
        result.calicoctl_version or "?",
        changes_cell(result),
        restarts_cell(result),
        drift_cell(result),
        targets_cell(result),
        error_cell(result),
    )


def table(results: Sequence[StackResult]) -> str:
    rows = [COLUMNS, *(row(r) for r in results)]
    widths = [max(len(cells[i]) for cells in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip() for cells in rows)


def finished_line(result: StackResult, done: int, total: int) -> str:
    """The line printed when a stack finishes."""
    prefix = f"[{done}/{total}] {result.stack} ({result.seconds:.1f} s)"
    if result.failed:
        return f"{prefix} FAILED: {error_cell(result)}"
    parts = [f"changes: {changes_cell(result)}"] if result.action != "verify" else []
    if result.restarts:
        parts.append(f"restarts: {restarts_cell(result)}")
    if result.action == "drift":
        parts.append(f"drift: {drift_cell(result)}")
    if result.targets:
        parts.append(f"targets up: {targets_cell(result)}")
    return f"{prefix} " + "; ".join(parts)


def live_count(action: str, done: int, failed: int, running: Sequence[str], total: int, seconds: float) -> str:
    shown = ", ".join(running[:4]) + (f" and {len(running) - 4} more" if len(running) > 4 else "")
    failures = f", {failed} failed" if failed else ""
    busy = f", {len(running)} running ({shown})" if running else ""
    return f"fleet {action}: {done}/{total} done{failures}{busy} {seconds:.0f} s"


def document(
    action: str, results: Sequence[StackResult], *, parallel: int, seconds: float, expect_no_changes: bool
) -> dict[str, Any]:
    """The `--json` document: the table's content, whole."""
    return {
        "action": action,
        "parallel": parallel,
        "seconds": round(seconds, 1),
        "expect_no_changes": expect_no_changes,
        "exit_status": exit_status(results, expect_no_changes),
        "stacks": [r.to_json() for r in results],
    }


MARKDOWN_COLUMNS = {
    "preview": ("Changes", "Pods restarted"),
    "up": ("Changes", "Pods restarted", "Targets up"),
    "drift": ("Drift",),
    "verify": ("Targets up",),
}
MARKDOWN_CELLS = {
    "Changes": changes_cell,
    "Pods restarted": restarts_cell,
    "Drift": drift_cell,
    "Targets up": targets_cell,
}
CHANGED_WORD = {"preview": "with changes", "up": "changed", "drift": "drifted", "verify": "with targets down"}


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(action: str, results: Sequence[StackResult], seconds: float) -> str:
    """The summary as a Markdown table, for a pull-request comment, an issue or a job summary."""
    changed = [r.stack for r in results if r.changed and not r.failed]
    failed = [r.stack for r in results if r.failed]
    counts = [f"{len(results)} stacks", f"{len(changed)} {CHANGED_WORD[action]}"]
    if failed:
        counts.append(f"{len(failed)} failed")
    columns = ("Stack", "Cluster", "Calico", "calicoctl", *MARKDOWN_COLUMNS[action], "Error")
    lines = [
        f"### `make fleet ACTION={action}`: {', '.join(counts)} ({seconds:.0f} s)",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for result in results:
        cells = [
            result.stack,
            result.cluster or "?",
            result.calico_version or "?",
            result.calicoctl_version or "?",
            *(MARKDOWN_CELLS[column](result) for column in MARKDOWN_COLUMNS[action]),
            error_cell(result),
        ]
        lines.append("| " + " | ".join(_markdown_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"
