"""Which resource types and chart path the components create, handed to them by who runs them."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from calicoctl.provider import CalicoctlPatch
from patch_release.provider import PatchRelease


@dataclass(frozen=True)
class ResourceTypes:
    """A stack program creates dynamic resources, whose providers the engine runs from the program's own
    Python. Served as a component package (package/provider.py), the components create the package's own
    resource types instead, and find the preflight chart from the consumer's project directory."""

    calicoctl_patch: type[pulumi.CustomResource] = CalicoctlPatch
    patch_release: type[pulumi.CustomResource] = PatchRelease
    # As the kubernetes provider finds it: from the project directory, where Pulumi starts the program and
    # its plugins, so the stack's inputs hold no machine path.
    preflight_chart: str = "components/preflight-chart"
