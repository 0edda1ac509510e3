"""Calico's Prometheus alerting and recording rules, with their promtool unit tests in ``alerts/tests/``.

The rules are data (``alerts.rules``); ``build_rule_groups`` turns them into the ``spec.groups``
of a PrometheusRule for a stack's jobs and settings. Nothing here imports Pulumi.
"""

from alerts.rules import (
    ALERT_NAMES,
    ALERTS,
    COMPONENTS,
    DEFAULT_JOBS,
    DEFAULT_RUNBOOK_BASE_URL,
    NODE_NOT_READY,
    RECORDING_RULES,
    SEVERITIES,
    SEVERITY_POLICY,
    AlertDefinition,
    RecordingRule,
    build_rule_groups,
    group_name,
    is_label_name,
    promql_string,
    validate_overrides,
)

__all__ = [
    "ALERTS",
    "ALERT_NAMES",
    "COMPONENTS",
    "DEFAULT_JOBS",
    "DEFAULT_RUNBOOK_BASE_URL",
    "NODE_NOT_READY",
    "RECORDING_RULES",
    "SEVERITIES",
    "SEVERITY_POLICY",
    "AlertDefinition",
    "RecordingRule",
    "build_rule_groups",
    "group_name",
    "is_label_name",
    "promql_string",
    "validate_overrides",
]
