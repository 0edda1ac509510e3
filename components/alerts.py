"""CalicoAlerts: the PrometheusRule with Calico's recording and alerting rules."""

from __future__ import annotations

import pulumi

from alerts import build_rule_groups
from components.manifests import prometheus_rule
from components.pod_monitor import custom_resource
from configuration import AlertSettings


class CalicoAlerts(pulumi.ComponentResource):
    """Recording rules (the dashboards use them too) and, unless `alerts.enabled` is false, the alerts."""

    def __init__(
        self,
        name: str,
        alerts: AlertSettings,
        jobs: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("calico-monitoring:index:CalicoAlerts", name, None, opts)
        groups = build_rule_groups(
            jobs,
            alerts.overrides,
            alerts.runbook_base_url,
            components=list(jobs),
            include_alerts=alerts.enabled,
            cluster_label=alerts.cluster_label,
        )
        manifest = prometheus_rule(alerts.name, alerts.namespace, alerts.labels, groups)
        self.rule = custom_resource(f"{name}-prometheusrule", manifest, self)
        self.register_outputs({"groups": [g["name"] for g in groups]})
