"""Where each server-side-apply patch of Calico's objects gets the PatchRelease that gives its fields back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from patch_release.provider import PatchRelease

# What a PatchRelease is created as: the dynamic resource in a stack program. Served as a component
# package, package/provider.py puts its own resource type here, whose CRUD runs in the package's process.
release_resource: type[pulumi.CustomResource] = PatchRelease


@dataclass(frozen=True)
class PatchGiveBack:
    """The stack's Kubernetes connection (patch_release.connection.connection_props), through which
    destroy gives a patch's fields back after checking that the patched object still exists."""

    connection: dict[str, Any]


# The objects this program patches, by the kind of its patch: apiVersion, kind and REST plural.
DAEMON_SET = ("apps/v1", "DaemonSet", "daemonsets")
DEPLOYMENT = ("apps/v1", "Deployment", "deployments")
INSTALLATION = ("operator.tigera.io/v1", "Installation", "installations")


def patch_target(kind: tuple[str, str, str], metadata: dict[str, Any]) -> dict[str, Any]:
    api_version, kind_name, plural = kind
    return {
        "apiVersion": api_version,
        "kind": kind_name,
        "plural": plural,
        "namespace": metadata.get("namespace"),
        "name": metadata["name"],
    }


def patch_options(
    name: str,
    kind: tuple[str, str, str],
    metadata: dict[str, Any],
    parent: pulumi.Resource,
    give_back: PatchGiveBack | None,
    aliases: Sequence[pulumi.Input[str]] = (),
) -> pulumi.ResourceOptions:
    """The patch's options: deleted with its PatchRelease ``<name>-release`` when there is a connection for
    one; without (a Kubernetes provider handed to the component), the provider gives the fields back itself."""
    if give_back is None:
        return pulumi.ResourceOptions(parent=parent, aliases=list(aliases))
    release = release_resource(
        f"{name}-release",
        {"target": patch_target(kind, metadata), "connection": give_back.connection},
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return pulumi.ResourceOptions(parent=parent, aliases=list(aliases), deleted_with=release)
