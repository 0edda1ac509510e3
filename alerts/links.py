"""The runbook and dashboard links each alert carries in its annotations."""

from __future__ import annotations

from alerts.templates import AlertDefinition

# The runbooks ship with the rules; where a team publishes its copy is only known from
# alerts.runbookUrlPattern. Without it each alert names the section in the shipped file.
RUNBOOKS_PATH = "docs/runbooks.md"

# Dashboard uid of each component's shipped dashboard (dashboards/*.json), for dashboard_url.
DASHBOARD_UIDS: dict[str, str] = {
    "felix": "calico-felix",
    "typha": "calico-typha",
    "kube-controllers": "calico-kube-controllers",
}


def runbook_anchor(alert_name: str) -> str:
    """The anchor of an alert's section in docs/runbooks.md (GitHub's, and most renderers', for ``## Name``)."""
    return alert_name.lower()


def alert_links(
    alert: AlertDefinition,
    runbook_url_pattern: str | None,
    grafana_url: str | None,
    dashboard_cluster_label: str | None,
) -> dict[str, str]:
    """The ``runbook`` or ``runbook_url`` annotation of ``alert``, and ``dashboard_url`` with ``grafana_url``."""
    anchor = runbook_anchor(alert.name)
    if runbook_url_pattern is None:
        links = {"runbook": f"calico-monitoring {RUNBOOKS_PATH}#{anchor}"}
    else:
        links = {"runbook_url": runbook_url_pattern.replace("{alert}", alert.name).replace("{anchor}", anchor)}
    if grafana_url is not None:
        # The last 3 hours around now; each variable the alert's labels can select, when it has the label.
        labels = [] if alert.expr.startswith("absent(") else [(n, n) for n in alert.dashboard_vars]
        if dashboard_cluster_label and not alert.expr.startswith("absent("):
            labels.insert(0, ("cluster", dashboard_cluster_label))
        query = "".join(
            f"{{{{ with $labels.{label} }}}}&var-{var}={{{{ . | urlquery }}}}{{{{ end }}}}" for var, label in labels
        )
        links["dashboard_url"] = (
            f"{grafana_url.rstrip('/')}/d/{DASHBOARD_UIDS[alert.component]}?from=now-3h&to=now{query}"
        )
    return links
