"""The shapes of Calico's rules and the pieces of text the components' alerts share.

Each component's module (``alerts.felix``, ``alerts.typha``, ``alerts.kube_controllers``)
defines its rules with these; ``alerts.rules`` fills the placeholders in for a stack.
"""

from __future__ import annotations

from dataclasses import dataclass

SEVERITIES: tuple[str, ...] = ("critical", "warning", "info")

SEVERITY_POLICY = """\
critical: users of many nodes are affected now or within minutes (policy, routes or
  addresses stop reaching a meaningful share of the cluster, or nothing can be
  observed at all). It pages, one alert per cause: breadth is measured across the
  job, never raised once per node.
warning: one node, one pod or one pool has a cause that needs a person during
  working hours; the cluster as a whole still works. Per-node alerts are held back
  while the cluster-wide alert for the same symptom fires where the cause is by
  nature upstream (resyncs, restarts, sync state); Felix-down is held back while
  Kubernetes itself reports the node NotReady.
info: not used by default; available to overrides."""

# Annotation snippets (Prometheus alert templating, passed through untouched).
POD_AND_TARGET = "pod {{ $labels.pod }}, target {{ $labels.instance }}"
# The alert value as a per-second rate (0.0167), as a whole count (12) and as a share (12.5%).
RATE_VALUE = '{{ printf "%.3g" $value }}'
COUNT_VALUE = '{{ printf "%.0f" $value }}'
SHARE_VALUE = "{{ $value | humanizePercentage }}"


@dataclass(frozen=True)
class RecordingRule:
    """A recording rule; ``expr`` uses the ``${job}`` and ``${c}`` placeholders."""

    record: str
    component: str
    expr: str


@dataclass(frozen=True)
class AlertDefinition:
    """One alert.

    Templates may use ``${job}`` (a quoted PromQL string literal),
    ``${threshold}`` (a PromQL number), ``${threshold_text}`` (the threshold
    for people to read), ``${for}`` and ``${c}`` (the cluster label and a comma
    inside ``by``/``on`` lists, or nothing).  ``{{ ... }}`` is Prometheus alert
    templating and is passed through untouched.
    """

    name: str
    component: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    # Why this severity, in the terms of SEVERITY_POLICY (README, runbooks).
    why: str = ""
    threshold: float | None = None
    # Inclusive upper bound for the threshold, and what the threshold means.
    threshold_max: float | None = None
    threshold_meaning: str = ""
    # How ${threshold_text} shows the threshold: "number" (3), "seconds" (5s)
    # or "percent" (0.9 -> 90%).
    threshold_style: str = "number"
    # Labels of the alert that select the dashboard's variable of the same name in dashboard_url.
    dashboard_vars: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        """Override fields this alert accepts."""
        base = ("enabled", "for", "severity")
        return (*base, "threshold") if self.threshold is not None else base


def number_text(value: float) -> str:
    """Render a number for PromQL and for people: 5, 0.9, 2.5."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return repr(value)


# How each component is named in alert names and texts.
_CAMEL = {"felix": "Felix", "typha": "Typha", "kube-controllers": "KubeControllers"}
_PROCESS = {"felix": "Felix", "typha": "Typha", "kube-controllers": "calico-kube-controllers"}


def down_alert(
    component: str,
    *,
    subject: str,
    consequence: str,
    why: str,
    expr: str = "up{job=${job}} == 0",
    condition: str = "",
    for_: str = "5m",
    dashboard_vars: tuple[str, ...] = (),
) -> AlertDefinition:
    """``Calico<Component>Down``: one target of the job fails every scrape (a warning: one instance)."""
    return AlertDefinition(
        name=f"Calico{_CAMEL[component]}Down",
        component=component,
        dashboard_vars=dashboard_vars,
        expr=expr,
        for_=for_,
        severity="warning",
        why=why,
        summary=f"{subject} cannot be scraped.",
        description=(
            f"Prometheus has failed to scrape {_PROCESS[component]} ({POD_AND_TARGET}) for more "
            f"than ${{for}}{condition}. {consequence}"
        ),
    )


def targets_missing_alert(component: str, *, consequence: str, severity: str, why: str) -> AlertDefinition:
    """``Calico<Component>TargetsMissing``: the job has no target at all, so its other alerts cannot fire."""
    return AlertDefinition(
        name=f"Calico{_CAMEL[component]}TargetsMissing",
        component=component,
        expr="absent(up{job=${job}})",
        for_="15m",
        severity=severity,
        why=why,
        summary=f"Prometheus has no {_PROCESS[component]} targets for job {{{{ $labels.job }}}}.",
        description=("No scrape target with job {{ $labels.job }} has existed for more than ${for}. " + consequence),
    )
