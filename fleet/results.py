"""One stack's outcome of a fleet action, and how the engine's steps and the stack's plan make it. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from builders.plan import StackPlan
from fleet.steps import Step

ACTIONS = ("preview", "up", "drift", "verify")
CHANGE_KINDS = ("create", "update", "replace", "delete")


@dataclass(frozen=True)
class Drifted:
    """A resource whose live state no longer matches what the last `up` left: changed fields, or deleted."""

    resource: str  # "PodMonitor monitoring/felix", "FelixConfiguration default"
    op: str  # update or delete
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.op == "delete":
            return f"{self.resource} deleted"
        return f"{self.resource}: {', '.join(self.fields)}" if self.fields else f"{self.resource} changed"


@dataclass
class StackResult:
    """What one action found on one stack; the same shape in the table, the `--json` document and between
    the worker process and the command."""

    stack: str
    action: str
    cluster: str | None = None  # the API server of the stack's kubeconfig context
    calico_version: str | None = None  # ClusterInformation's, as `calicoctl version` reports it
    calicoctl_version: str | None = None
    changes: dict[str, int] = field(default_factory=dict)  # create/update/replace/delete: how many
    restarts: list[str] = field(default_factory=list)  # the workloads whose pods the change rolls
    drift: list[Drifted] = field(default_factory=list)
    targets: dict[str, dict[str, int]] | None = None  # scrape job: {"up": n, "expected": m}
    error: str | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def changed(self) -> bool:
        return any(self.changes.values()) or bool(self.drift)

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["drift"] = [{**asdict(d), "fields": list(d.fields)} for d in self.drift]
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> StackResult:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in document.items() if key in known}
        values["drift"] = [
            Drifted(d["resource"], d["op"], tuple(d.get("fields") or ())) for d in document.get("drift") or []
        ]
        return cls(**values)


def change_counts(resource_changes: Mapping[str, int] | None) -> dict[str, int]:
    """The engine's counts by operation, kept to the kinds that change something."""
    counts = {str(getattr(op, "value", op)): count for op, count in (resource_changes or {}).items()}
    return {kind: counts[kind] for kind in CHANGE_KINDS if counts.get(kind)}


def restarted_workloads(plan: StackPlan | None, steps: Iterable[Step]) -> list[str]:
    """The workloads whose pods roll, by name: for every patch a step creates, changes or deletes, the workload the plan
    says its change restarts (a patch the plan no longer has, e.g. Typha turned off: the workload it patched)."""
    restarts_by_object = {}
    if plan is not None:
        for component in plan.components:
            if component.patch is not None:
                target = component.patch.object
                restarts_by_object[(target.kind, target.namespace, target.name)] = str(component.patch.restarts)
    restarted: list[str] = []
    for step in steps:
        if step.patched is None or not step.changes:
            continue
        kind, namespace, name = step.patched
        workload = restarts_by_object.get(step.patched)
        if workload is None:
            workload = f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
        if workload not in restarted:
            restarted.append(workload)
    return sorted(restarted)


def drifted(steps: Iterable[Step], reads: Iterable[str] = ()) -> list[Drifted]:
    """From the steps of a preview-only refresh: the resources it would change or drop from the state.
    ``reads`` are the URNs of resources the program only reads (`.get`): their live state changing is no drift."""
    only_read = set(reads)
    found = [
        Drifted(step.what, step.op, step.fields)
        for step in steps
        if step.op in ("update", "delete") and step.urn not in only_read
    ]
    return sorted(found, key=lambda item: (item.resource, item.op))


def drift_counts(drift: Iterable[Drifted]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in drift:
        counts[item.op] = counts.get(item.op, 0) + 1
    return {kind: counts[kind] for kind in CHANGE_KINDS if counts.get(kind)}


def targets_error(targets: Mapping[str, Mapping[str, int]]) -> str | None:
    """The jobs with fewer (or more) targets up than expected, as an error; None when every job has them all."""
    missing = [
        f"{job} {counts.get('up', 0)}/{counts.get('expected', 0)} up"
        for job, counts in sorted(targets.items())
        if counts.get("up") != counts.get("expected")
    ]
    return f"scrape targets missing: {'; '.join(missing)}" if missing else None


def exit_status(results: Iterable[StackResult], expect_no_changes: bool) -> int:
    """0 all clean; 1 a stack failed; 2 changes or drift where none were expected."""
    results = list(results)
    if any(r.failed for r in results):
        return 1
    if expect_no_changes and any(r.changed for r in results):
        return 2
    return 0
