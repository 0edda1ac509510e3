"""The restarts a patch of Calico's workloads costs, shown in the preview before they happen (builders.restarts)."""

from __future__ import annotations

from typing import Any

import pulumi

from builders.plan import WorkloadPatch
from builders.restarts import restart_warning
from builders.sdk_values import plain


def warn_of_restarts(
    component: str,
    patch: WorkloadPatch,
    resource: pulumi.Resource,
    live_spec: pulumi.Output[Any],
    live_status: pulumi.Output[Any] | None = None,
) -> None:
    """In a preview, a warning on ``resource`` saying which pods the next `up` restarts to apply ``patch``, and
    at what pace, from the live object's spec (and a DaemonSet's status). Nothing once the patch is applied,
    and nothing during `up` itself: the message is for before."""
    if not pulumi.runtime.is_dry_run():
        return

    def warn(parts: list[Any]) -> None:
        message = restart_warning(component, patch, plain(parts[0]), plain(parts[1]))
        if message is not None:
            pulumi.log.warn(message, resource=resource)

    pulumi.Output.all(live_spec, live_status).apply(warn)
