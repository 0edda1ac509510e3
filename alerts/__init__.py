"""Calico's Prometheus alerting and recording rules, with their promtool unit tests in ``alerts/tests/``.

The rules are data (``alerts.rules``); ``build_rule_groups`` turns them into the ``spec.groups``
of a PrometheusRule for a stack's jobs and settings. Nothing here imports Pulumi.
"""

from alerts.rules import (
    ALERT_ANNOTATIONS,
    ALERT_NAMES,
    ALERTS,
    COMPONENTS,
    DASHBOARD_UIDS,
    DEFAULT_JOBS,
    NODE_NOT_READY,
    RECORDING_RULES,
    RUNBOOK_PLACEHOLDERS,
    RUNBOOKS_PATH,
    SEVERITIES,
    SEVERITY_POLICY,
    AlertDefinition,
    RecordingRule,
    alert_thresholds,
    build_rule_groups,
    group_name,
    is_label_name,
    is_runbook_url_pattern,
    promql_string,
    runbook_anchor,
    validate_overrides,
)

__all__ = [
    "ALERTS",
    "ALERT_ANNOTATIONS",
    "ALERT_NAMES",
    "COMPONENTS",
    "DASHBOARD_UIDS",
    "DEFAULT_JOBS",
    "NODE_NOT_READY",
    "RECORDING_RULES",
    "RUNBOOKS_PATH",
    "RUNBOOK_PLACEHOLDERS",
    "SEVERITIES",
    "SEVERITY_POLICY",
    "AlertDefinition",
    "RecordingRule",
    "alert_thresholds",
    "build_rule_groups",
    "group_name",
    "is_label_name",
    "is_runbook_url_pattern",
    "promql_string",
    "runbook_anchor",
    "validate_overrides",
]
