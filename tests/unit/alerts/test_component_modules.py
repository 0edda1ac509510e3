"""The alerts package's layout: one module per component, assembled in a fixed order."""

from __future__ import annotations

import pytest

import alerts
from alerts import ALERTS, COMPONENTS, RECORDING_RULES, felix, kube_controllers, typha

MODULES = {"felix": felix, "typha": typha, "kube-controllers": kube_controllers}

# What callers import from ``alerts``; a name moving between its modules must stay here.
EXPORTED = {
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
}


@pytest.mark.parametrize("component", COMPONENTS)
def test_a_component_module_holds_only_its_own_rules(component: str) -> None:
    module = MODULES[component]
    assert module.ALERTS and module.RECORDING_RULES
    assert {a.component for a in module.ALERTS} == {component}
    assert {r.component for r in module.RECORDING_RULES} == {component}


def test_the_catalog_keeps_the_components_in_order_and_each_module_in_its_own_order() -> None:
    assert tuple(a for c in COMPONENTS for a in MODULES[c].ALERTS) == ALERTS
    assert tuple(r for c in COMPONENTS for r in MODULES[c].RECORDING_RULES) == RECORDING_RULES


def test_the_package_exports_the_names_callers_import() -> None:
    assert set(alerts.__all__) == EXPORTED
    for name in EXPORTED:
        assert getattr(alerts, name) is not None
