"""Calico's Prometheus alerting and recording rules for a stack, as plain data.

Nothing here imports Pulumi: ``build_rule_groups`` returns the ``spec.groups`` list of a
PrometheusRule, so the rules can be unit-tested and fed to ``promtool`` directly. The rules
themselves are in ``alerts.felix``, ``alerts.typha`` and ``alerts.kube_controllers``; every
expression is scoped to one scrape job, ``job="<value>"``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from alerts.catalog import ALERTS, COMPONENTS, DEFAULT_JOBS, RECORDING_RULES
from alerts.links import alert_links
from alerts.templates import AlertDefinition, number_text
from alerts.validation import validate_overrides
from builders.values import RUNBOOK_PLACEHOLDERS, is_label_name, is_link_url, is_runbook_url_pattern

# The annotations the program writes on an alert (rule annotations of a stack may not replace them).
ALERT_ANNOTATIONS = ("summary", "description", "runbook", "runbook_url", "dashboard_url")

_PLACEHOLDER_RE = re.compile(r"\$\{(job|threshold|threshold_text|for|c)\}")


def promql_string(value: str) -> str:
    """Quote ``value`` as a PromQL double-quoted string literal."""
    out = []
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _threshold_text(alert: AlertDefinition, threshold: float) -> str:
    if alert.threshold_style == "percent":
        return f"{float(threshold) * 100:g}%"
    if alert.threshold_style == "seconds":
        return f"{number_text(threshold)}s"
    return number_text(threshold)


def _substitute(template: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], template)


def _squash(expr_template: str) -> str:
    # Collapse layout whitespace before the job value goes in, so a job value
    # containing spaces is never altered.
    return " ".join(expr_template.split())


def _component_jobs(jobs: Mapping[str, str], components: Iterable[str]) -> dict[str, str]:
    wanted = list(components) if not isinstance(components, str) else [components]
    for component in wanted:
        if component not in COMPONENTS:
            raise ValueError(f"unknown Calico component {component!r}; expected some of " + ", ".join(COMPONENTS))
    for component in jobs:
        if component not in COMPONENTS:
            raise ValueError(f"jobs: unknown Calico component {component!r}; expected some of " + ", ".join(COMPONENTS))
    result = {}
    for component in COMPONENTS:
        if component not in wanted:
            continue
        job = jobs.get(component, DEFAULT_JOBS[component])
        if not isinstance(job, str) or not job:
            raise ValueError(f"jobs[{component!r}]: expected a non-empty job label value, got {job!r}")
        result[component] = job
    return result


def alert_thresholds(overrides: Mapping[str, Mapping[str, object]] | None = None) -> dict[str, float]:
    """The threshold each alert that has one fires at, after ``overrides`` (for the panels that draw it)."""
    validate_overrides(overrides)
    overrides = overrides or {}
    return {
        a.name: float(overrides.get(a.name, {}).get("threshold", a.threshold))  # type: ignore[arg-type]
        for a in ALERTS
        if a.threshold is not None
    }


def group_name(component: str) -> str:
    """The name of ``component``'s rule group in the PrometheusRule."""
    return f"calico-{component}.rules"


def build_rule_groups(
    jobs: Mapping[str, str],
    overrides: Mapping[str, Mapping[str, object]] | None = None,
    runbook_url_pattern: str | None = None,
    components: Iterable[str] = COMPONENTS,
    include_alerts: bool = True,
    cluster_label: str | None = None,
    grafana_url: str | None = None,
    dashboard_cluster_label: str | None = None,
    rule_labels: Mapping[str, str] | None = None,
    rule_annotations: Mapping[str, str] | None = None,
) -> list[dict]:
    """Return the ``spec.groups`` of a PrometheusRule for the given components.

    ``jobs`` maps component to its scrape job label value; a component missing
    from it uses ``DEFAULT_JOBS``.  Groups come in the order of ``COMPONENTS``
    whatever the order of ``components``; each holds that component's recording
    rules first (so its alerts see values from the same evaluation), then its
    enabled alerts (none with ``include_alerts=False``: the recording rules the
    dashboards use).  Overrides for alerts of components not built are checked
    but otherwise ignored.  ``cluster_label`` (say ``cluster``, as Thanos, Mimir
    or a multi-cluster Prometheus add) is kept by every aggregation and join, so
    one rule set evaluated over many clusters never mixes them.

    Each alert links its runbook: ``runbook_url`` from ``runbook_url_pattern``, or, without
    one, a ``runbook`` annotation naming its section of the shipped docs/runbooks.md. With
    ``grafana_url`` it also links its component's dashboard (``dashboard_url``), with the
    node or pool (and ``dashboard_cluster_label``'s cluster) of the alert selected.
    """
    validate_overrides(overrides)
    overrides = overrides or {}
    if runbook_url_pattern is not None and not is_runbook_url_pattern(runbook_url_pattern):
        raise ValueError(
            f"runbook_url_pattern: expected an http(s) URL with {' or '.join(RUNBOOK_PLACEHOLDERS)}, "
            f"got {runbook_url_pattern!r}"
        )
    if grafana_url is not None and not is_link_url(grafana_url):
        raise ValueError(f"grafana_url: expected an http(s) URL, got {grafana_url!r}")
    if dashboard_cluster_label is not None and not is_label_name(dashboard_cluster_label):
        raise ValueError(f"dashboard_cluster_label: expected a Prometheus label name, got {dashboard_cluster_label!r}")
    component_jobs = _component_jobs(jobs, components)
    if cluster_label is not None and not is_label_name(cluster_label):
        raise ValueError(f"cluster_label: expected a Prometheus label name, got {cluster_label!r}")
    cluster = f"{cluster_label}, " if cluster_label else ""

    groups: list[dict] = []
    for component, job in component_jobs.items():
        job_literal = promql_string(job)
        rules: list[dict] = []
        for rec in RECORDING_RULES:
            if rec.component != component:
                continue
            rules.append(
                {
                    "record": rec.record,
                    "expr": _substitute(_squash(rec.expr), {"job": job_literal, "c": cluster}),
                }
            )
        for alert in ALERTS:
            if alert.component != component or not include_alerts:
                continue
            settings = overrides.get(alert.name, {})
            if not settings.get("enabled", True):
                continue
            threshold = settings.get("threshold", alert.threshold)
            duration = str(settings.get("for", alert.for_))
            values = {"job": job_literal, "for": duration, "c": cluster}
            if threshold is not None:
                values["threshold"] = number_text(threshold)
                values["threshold_text"] = _threshold_text(alert, threshold)
            rules.append(
                {
                    "alert": alert.name,
                    "expr": _substitute(_squash(alert.expr), values),
                    "for": duration,
                    "labels": {**(rule_labels or {}), "severity": str(settings.get("severity", alert.severity))},
                    "annotations": {
                        **(rule_annotations or {}),
                        "summary": _substitute(alert.summary, values),
                        "description": _substitute(alert.description, values),
                        **alert_links(alert, runbook_url_pattern, grafana_url, dashboard_cluster_label),
                    },
                }
            )
        groups.append({"name": group_name(component), "rules": rules})
    return groups
