"""CalicoAlerts: the PrometheusRule with Calico's recording and alerting rules."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from alerts import build_rule_groups
from builders.manifests import prometheus_rule
from components.monitors import custom_resource
from configuration import AlertSettings, DashboardSettings


@dataclass(frozen=True)
class CalicoAlertsArgs:
    alerts: AlertSettings
    jobs: dict[str, str]  # component -> the scrape job of its monitor
    # The dashboards' cluster label and Grafana URL, when the alerts should link them.
    dashboards: DashboardSettings | None = None


class CalicoAlerts(pulumi.ComponentResource):
    """Recording rules (the dashboards use them too) and, unless `alerts.enabled` is false, the alerts."""

    rule: pulumi.CustomResource

    def __init__(self, name: str, args: CalicoAlertsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("calico-monitoring:index:CalicoAlerts", name, None, opts)
        alerts, jobs, dashboards = args.alerts, args.jobs, args.dashboards
        groups = build_rule_groups(
            jobs,
            alerts.overrides,
            runbook_url_pattern=alerts.runbook_url,
            components=list(jobs),
            include_alerts=alerts.enabled,
            # The dashboards' cluster label when the rules have none of their own: recorded series keep it.
            cluster_label=alerts.cluster_label or (dashboards.cluster_label if dashboards is not None else None),
            # Alerts link their dashboard when the dashboards are shipped and Grafana's URL is known.
            grafana_url=dashboards.grafana_url if dashboards is not None and dashboards.enabled else None,
            dashboard_cluster_label=dashboards.cluster_label if dashboards is not None else None,
            rule_labels=dict(alerts.rule_labels),
            rule_annotations=dict(alerts.rule_annotations),
        )
        manifest = prometheus_rule(alerts.name, alerts.namespace, alerts.labels, groups)
        self.rule = custom_resource(f"{name}-prometheusrule", manifest, self)
        self.register_outputs({"groups": [g["name"] for g in groups]})
