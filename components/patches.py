"""Where each server-side-apply patch of Calico's objects gets the PatchRelease that gives its fields back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from builders.plan import WorkloadPatch


@dataclass(frozen=True)
class PatchGiveBack:
    """The stack's Kubernetes connection (patch_release.connection.connection_props), through which
    destroy gives a patch's fields back after checking that the patched object still exists."""

    connection: dict[str, Any]
    # The PatchRelease resource type (components.resource_types.ResourceTypes.patch_release).
    release: type[pulumi.CustomResource]


def patch_target(patch: WorkloadPatch) -> dict[str, Any]:
    api_version, kind, plural = patch.target
    target = patch.object
    return {
        "apiVersion": api_version,
        "kind": kind,
        "plural": plural,
        "namespace": target.namespace,
        "name": target.name,
    }


def patch_options(
    name: str,
    patch: WorkloadPatch,
    parent: pulumi.Resource,
    give_back: PatchGiveBack | None,
    aliases: Sequence[pulumi.Input[str]] = (),
) -> pulumi.ResourceOptions:
    """The patch's options: deleted with its PatchRelease ``<name>-release`` when there is a connection for
    one; without (a Kubernetes provider handed to the component), the provider gives the fields back itself."""
    if give_back is None:
        return pulumi.ResourceOptions(parent=parent, aliases=list(aliases))
    release = give_back.release(
        f"{name}-release",
        {"target": patch_target(patch), "connection": give_back.connection},
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return pulumi.ResourceOptions(parent=parent, aliases=list(aliases), deleted_with=release)
