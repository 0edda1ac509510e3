"""What one engine event says about one resource: the operation, the object it is, and the fields that change.

Pure: it reads the Automation API's event objects (``pulumi.automation.events``), which are plain data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pulumi.automation.events import StepEventMetadata, StepEventStateMetadata

from calicoctl.provider import CALICOCTL_PATCH_TYPE

# The operations that change something in the cluster (a replacement also shows as its create and delete halves).
CHANGING_OPS = frozenset({"create", "update", "replace", "delete", "create-replacement", "delete-replaced"})


@dataclass(frozen=True)
class Step:
    """One resource's step: its operation, what it is in the cluster's terms, and the fields that change."""

    urn: str
    type: str
    op: str
    what: str  # "PodMonitor monitoring/felix", "FelixConfiguration default", else the resource's name
    fields: tuple[str, ...]
    # The object a kubernetes `<Kind>Patch` resource patches: (kind, namespace or None, name).
    patched: tuple[str, str | None, str] | None = None

    @property
    def changes(self) -> bool:
        return self.op in CHANGING_OPS


def resource_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def kubernetes_kind(type_token: str) -> tuple[str, bool] | None:
    """("DaemonSet", True) for `kubernetes:apps/v1:DaemonSetPatch`; None for a type not of the kubernetes provider."""
    if not type_token.startswith("kubernetes:") or type_token.count(":") != 2:
        return None
    kind = type_token.rsplit(":", 1)[-1]
    if kind.endswith("Patch") and kind != "Patch":
        return kind.removesuffix("Patch"), True
    return kind, False


def _states(meta: StepEventMetadata) -> list[StepEventStateMetadata]:
    return [state for state in (meta.new, meta.old) if state is not None]


def _metadata(meta: StepEventMetadata) -> Mapping[str, Any]:
    """The Kubernetes metadata of the resource, from whichever side of the step carries it."""
    for state in _states(meta):
        for properties in (state.inputs, state.outputs):
            metadata = (properties or {}).get("metadata")
            if isinstance(metadata, Mapping) and isinstance(metadata.get("name"), str):
                return metadata
    return {}


def _calicoctl_target(meta: StepEventMetadata) -> str | None:
    for state in _states(meta):
        inputs = state.inputs or {}
        kind, name = inputs.get("kind"), inputs.get("resourceName")
        if isinstance(kind, str) and kind and isinstance(name, str):
            return f"{kind[0].upper()}{kind[1:]} {name}"
    return None


def differing_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    """The dotted paths of the leaves that differ between two property values (`a.b[0].c`)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        paths: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            paths.extend(differing_paths(old.get(key), new.get(key), path))
        return paths
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        pairs = enumerate(zip(old, new, strict=True))
        return [path for i, (a, b) in pairs for path in differing_paths(a, b, f"{prefix}[{i}]")]
    return [] if old == new else [prefix]


def _calicoctl_fields(meta: StepEventMetadata) -> list[str]:
    """A calicoctl patch's provider reports no field diff: a refresh shows the fields whose live value it read
    differs from the recorded one (its `applied` output); an update, the inputs that change."""
    old, new = meta.old, meta.new
    if old is None or new is None:
        return []
    recorded, read = (old.outputs or {}).get("applied"), (new.outputs or {}).get("applied")
    if isinstance(recorded, Mapping) and isinstance(read, Mapping):
        drifted = differing_paths(recorded, read)
        if drifted:
            return drifted
    return differing_paths(old.inputs or {}, new.inputs or {})


def changed_fields(meta: StepEventMetadata) -> list[str]:
    if meta.type == CALICOCTL_PATCH_TYPE:
        return _calicoctl_fields(meta)
    if meta.detailed_diff:
        return sorted(meta.detailed_diff)
    return sorted(meta.diffs or [])


def step_from(meta: StepEventMetadata) -> Step:
    kind = kubernetes_kind(meta.type)
    patched = None
    what = resource_name(meta.urn)
    if meta.type == CALICOCTL_PATCH_TYPE:
        what = _calicoctl_target(meta) or what
    elif kind is not None:
        metadata = _metadata(meta)
        if metadata:
            namespace = metadata.get("namespace") or None
            name = metadata["name"]
            what = f"{kind[0]} {namespace}/{name}" if namespace else f"{kind[0]} {name}"
            if kind[1]:
                patched = (kind[0], namespace, name)
    return Step(meta.urn, meta.type, meta.op.value, what, tuple(changed_fields(meta)), patched)
