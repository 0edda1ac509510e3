"""Calico's Prometheus alerting and recording rules, with their promtool unit tests in ``alerts/tests/``.

The rules are data, one module per component (``alerts.felix``, ``alerts.typha``,
``alerts.kube_controllers``) built from the shapes and shared texts in ``alerts.templates``;
``build_rule_groups`` (``alerts.rules``) turns them into the ``spec.groups`` of a PrometheusRule
for a stack's jobs and settings, with the links of ``alerts.links`` and the check of its overrides
in ``alerts.validation``; the value rules (label names, durations, thresholds, URLs) are
in ``builders.values``, shared with the configuration model. Nothing here imports Pulumi.
"""

from alerts.catalog import ALERT_NAMES, ALERTS, COMPONENTS, DEFAULT_JOBS, RECORDING_RULES
from alerts.felix import NODE_NOT_READY
from alerts.links import DASHBOARD_UIDS, RUNBOOKS_PATH, runbook_anchor
from alerts.rules import ALERT_ANNOTATIONS, alert_thresholds, build_rule_groups, group_name, promql_string
from alerts.templates import SEVERITIES, SEVERITY_POLICY, AlertDefinition, RecordingRule
from alerts.validation import validate_overrides
from builders.values import RUNBOOK_PLACEHOLDERS, is_label_name, is_runbook_url_pattern

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
