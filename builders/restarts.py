"""What a run costs in restarts, said before it happens: the pods a workload patch rolls, and at what pace.

A patch of a pod template makes the DaemonSet or Deployment controller replace every pod of that workload, at
the pace of the workload's own update strategy. The pace is resolved as the controllers resolve it (Kubernetes
pkg/controller/daemon/util UnavailableCount and SurgeCount, pkg/controller/deployment/util ResolveFenceposts):

- DaemonSet: `maxUnavailable` (default 1) and `maxSurge` (default 0) are scaled against the pods it schedules,
  both rounded up. With a surge, a new pod starts beside each old one, `maxSurge` nodes at a time; without,
  `maxUnavailable` pods are stopped at a time (1 when both come to 0). `OnDelete` restarts nothing by itself.
- Deployment: `maxSurge` (rounded up) and `maxUnavailable` (rounded down) of `replicas`, both 25% by default
  (1 unavailable when both come to 0); `Recreate` stops every pod before starting the new ones.

Pure: the caller reads the live object and logs the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from builders.plan import DAEMON_SET, INSTALLATION, WorkloadPatch
from builders.sdk_values import camel_keys

ROLLING_UPDATE, ON_DELETE, RECREATE = "RollingUpdate", "OnDelete", "Recreate"

# What each component's patch changes, and the word that stands for it afterwards.
_CHANGES = {
    "felix": ("Felix's metrics port", "it"),
    "typha": ("Typha's metrics settings", "them"),
    "kube-controllers": ("calico-kube-controllers' metrics port", "it"),
}
_SERVICE_SCRAPE = "`pulumi config set --path calico-monitoring:felix.scrape service`"
_NO_WAY_AROUND = "Typha reads its metrics settings only when it starts, so no scrape mode avoids this."


def scaled(value: int | str | None, total: int, *, round_up: bool) -> int:
    """An int-or-percent field (`1`, `"10%"`) as a number of pods out of ``total``."""
    if value is None:
        return 0
    if isinstance(value, str) and value.endswith("%"):
        share = int(value[:-1]) * total
        return -(-share // 100) if round_up else share // 100
    return int(value)


@dataclass(frozen=True)
class Pace:
    """How a workload's controller replaces its pods after a change of their template."""

    strategy: str  # RollingUpdate, OnDelete or Recreate
    pods: int
    at_once: int  # pods replaced together; 0 for OnDelete
    because: str  # the fields that set the pace, as written on the object
    surge: bool = False  # new pods start before the old ones stop

    @property
    def rounds(self) -> int:
        return -(-self.pods // self.at_once) if self.at_once else 0


def _setting(name: str, value: int | str) -> str:
    return f"{name} {value}"


def _field(source: dict[str, Any], name: str) -> Any:
    """A top-level field by its API name, also when it arrives through the SDK in snake_case, with camelCase keys
    inside (only fields without user data are read this way)."""
    snake = re.sub(r"[A-Z]", lambda upper: "_" + upper[0].lower(), name)
    return camel_keys(source.get(name, source.get(snake)))


def daemon_set_pace(spec: dict[str, Any], status: dict[str, Any] | None) -> Pace:
    """The pace of a DaemonSet from its spec and status (the pods it schedules: `desiredNumberScheduled`)."""
    strategy = _field(spec, "updateStrategy") or {}
    kind = strategy.get("type") or ROLLING_UPDATE
    pods = _field(status or {}, "desiredNumberScheduled") or 0
    if kind != ROLLING_UPDATE:
        return Pace(kind, pods, 0, f"updateStrategy {kind}")
    rolling = strategy.get("rollingUpdate") or {}
    max_surge, max_unavailable = rolling.get("maxSurge", 0), rolling.get("maxUnavailable", 1)
    surge = scaled(max_surge, pods, round_up=True)
    if surge > 0:
        return Pace(kind, pods, min(surge, pods), _setting("maxSurge", max_surge), surge=True)
    unavailable = scaled(max_unavailable, pods, round_up=True) or 1
    return Pace(kind, pods, min(unavailable, pods), _setting("maxUnavailable", max_unavailable))


def deployment_pace(spec: dict[str, Any]) -> Pace:
    """The pace of a Deployment from its spec (`replicas`, 1 when unset, and `strategy`)."""
    strategy = _field(spec, "strategy") or {}
    kind = strategy.get("type") or ROLLING_UPDATE
    pods = _field(spec, "replicas")
    pods = 1 if pods is None else pods
    if kind == RECREATE:
        return Pace(kind, pods, pods, f"strategy {kind}")
    rolling = strategy.get("rollingUpdate") or {}
    max_surge, max_unavailable = rolling.get("maxSurge", "25%"), rolling.get("maxUnavailable", "25%")
    surge = scaled(max_surge, pods, round_up=True)
    unavailable = scaled(max_unavailable, pods, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    because = f"{_setting('maxSurge', max_surge)}, {_setting('maxUnavailable', max_unavailable)}"
    return Pace(kind, pods, min(surge + unavailable, pods), because, surge=surge > 0)


def _contains(live: Any, ours: Any) -> bool:
    """Whether every field of ``ours`` has that value in ``live``: a list item of ours matches some live item."""
    if isinstance(ours, dict):
        return isinstance(live, dict) and all(_contains(live.get(key), value) for key, value in ours.items())
    if isinstance(ours, list):
        return isinstance(live, list) and all(any(_contains(item, wanted) for item in live) for wanted in ours)
    return live == ours


def already_applied(patch: WorkloadPatch, live_spec: dict[str, Any]) -> bool:
    """Whether the live object's spec already has every field the patch sets (a re-run changes nothing)."""
    return _contains(camel_keys(live_spec), patch.manifest["spec"])


def _pods(count: int) -> str:
    return "1 pod" if count == 1 else f"{count:,} pods"


def _pace_clause(pace: Pace) -> str:
    """What happens to the pods, from "its ..." to the end of the clause."""
    if pace.strategy == ROLLING_UPDATE:
        if pace.pods == 1:
            return f"its pod restarts ({pace.because})"
        how = f"{pace.because}: each new pod starts before its old one stops" if pace.surge else pace.because
        if pace.rounds == 1:
            return f"its {_pods(pace.pods)} restart together ({how})"
        waits = "the new pod" if pace.at_once == 1 else "the new pods"
        return (
            f"its {_pods(pace.pods)} restart, {pace.at_once:,} at a time ({how}), "
            f"in {pace.rounds:,} rounds that each wait for {waits} to be ready"
        )
    if pace.strategy == RECREATE:
        if pace.pods == 1:
            return f"its pod stops, then a new one starts ({pace.because})"
        return f"its {_pods(pace.pods)} stop together, then {pace.pods:,} new ones start ({pace.because})"
    return (
        f"none of its {_pods(pace.pods)} restarts now ({pace.because}): each gets the change only when it is deleted, "
        "and is not scraped until then"
    )


def _way_around(component: str, patch: WorkloadPatch) -> str:
    if component == "typha":
        return _NO_WAY_AROUND
    # The calico-node and kube-controllers ports are declared for the pod scrape only.
    return f"To leave {patch.restarts} alone, scrape through a Service instead: {_SERVICE_SCRAPE}."


def restart_warning(
    component: str, patch: WorkloadPatch, live_spec: dict[str, Any] | None, live_status: Any = None
) -> str | None:
    """What the next `up` restarts to apply a component's workload patch (the plan's ComponentPlan.patch), read
    against the live object it patches (its spec, and for a DaemonSet its status); None when nothing will
    restart: the live object unknown (render mode), the patch already applied, or no pods."""
    if not live_spec or already_applied(patch, live_spec):
        return None
    change, pronoun = _CHANGES[component]
    if patch.target == INSTALLATION:
        port = patch.manifest["spec"]["typhaMetricsPort"]
        return (
            f"`pulumi up` sets typhaMetricsPort {port} on {patch.object}: the Tigera operator then turns Typha's "
            f"metrics on in {patch.restarts}, which restarts its pods at the pace the operator sets; "
            f"`pulumi destroy` removes it and the operator restarts them again. {_NO_WAY_AROUND}"
        )
    pace = daemon_set_pace(live_spec, live_status) if patch.target == DAEMON_SET else deployment_pace(live_spec)
    if pace.pods == 0:
        return None
    them = "it" if pace.pods == 1 else "them"
    if pace.strategy == ON_DELETE:
        destroy = f"`pulumi destroy` removes {pronoun} the same way."
    else:
        destroy = f"`pulumi destroy` removes {pronoun} and restarts {them} again."
    way_around = _way_around(component, patch)
    return f"`pulumi up` adds {change} to {patch.restarts}: {_pace_clause(pace)}; {destroy} {way_around}"
