"""CalicoAlerts: the PrometheusRule with Calico's recording and alerting rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.monitors import custom_resource


@dataclass(frozen=True)
class CalicoAlertsArgs:
    rule: dict[str, Any]  # the plan's PrometheusRule manifest (builders.plan.rule_groups)


class CalicoAlerts(pulumi.ComponentResource):
    """Recording rules (the dashboards use them too) and, unless `alerts.enabled` is false, the alerts."""

    rule: pulumi.CustomResource

    def __init__(self, name: str, args: CalicoAlertsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("calico-monitoring:index:CalicoAlerts", name, None, opts)
        self.rule = custom_resource(f"{name}-prometheusrule", args.rule, self)
        self.register_outputs({"groups": [group["name"] for group in args.rule["spec"]["groups"]]})
