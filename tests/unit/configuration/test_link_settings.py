"""The settings of issue 12's links and cluster dimension: alerts.runbookUrlPattern,
dashboards.clusterLabel (default alerts.clusterLabel) and dashboards.grafanaUrl."""

from __future__ import annotations

import pytest

from configuration import ConfigError, parse_settings

BASE = {"kubernetes:context": "c", "calico-monitoring:datastore": {"type": "kubernetes"}}


def settings(**sections):
    return parse_settings({**BASE, **{f"calico-monitoring:{k}": v for k, v in sections.items()}})


def test_defaults_link_no_page_and_add_no_cluster():
    parsed = settings()
    assert parsed.alerts.runbook_url is None
    assert parsed.dashboards.cluster_label is None
    assert parsed.dashboards.grafana_url is None


def test_runbook_url_pattern_and_the_base_url_it_generalises():
    pattern = "https://git.example.com/ops/calico-monitoring/-/blob/v0.3.0/docs/runbooks.md#{anchor}"
    assert settings(alerts={"runbookUrlPattern": pattern}).alerts.runbook_url == pattern
    base = settings(alerts={"runbookBaseUrl": "https://wiki.example.com/calico.md"}).alerts.runbook_url
    assert base == "https://wiki.example.com/calico.md#{anchor}"


@pytest.mark.parametrize(
    ("alerts", "fragment"),
    [
        ({"runbookUrlPattern": "https://wiki.example.com/calico"}, "alerts.runbookUrlPattern"),
        ({"runbookUrlPattern": "https://wiki.example.com/{name}"}, "alerts.runbookUrlPattern"),
        (
            {"runbookUrlPattern": "https://a.example.com/{alert}", "runbookBaseUrl": "https://b.example.com/r"},
            "set runbookUrlPattern or runbookBaseUrl, not both",
        ),
    ],
)
def test_bad_runbook_settings_are_named(alerts, fragment):
    with pytest.raises(ConfigError, match=fragment):
        settings(alerts=alerts)


def test_dashboards_cluster_label_follows_the_rules_unless_set():
    assert settings(alerts={"clusterLabel": "cluster"}).dashboards.cluster_label == "cluster"
    both = settings(alerts={"clusterLabel": "cluster"}, dashboards={"clusterLabel": "k8s_cluster"})
    assert (both.alerts.cluster_label, both.dashboards.cluster_label) == ("cluster", "k8s_cluster")
    assert settings(dashboards={"clusterLabel": "region"}).alerts.cluster_label is None


@pytest.mark.parametrize(
    ("dashboards", "fragment"),
    [
        ({"clusterLabel": "__name__"}, "dashboards.clusterLabel"),
        ({"clusterLabel": "a-b"}, "dashboards.clusterLabel"),
        ({"grafanaUrl": "grafana.example.com"}, "dashboards.grafanaUrl"),
        ({"grafanaUrl": "https://grafana.example.com/?orgId=1"}, "dashboards.grafanaUrl"),
        ({"grafanaUrl": "https://admin@grafana.example.com"}, "dashboards.grafanaUrl"),
    ],
)
def test_bad_dashboard_settings_are_named(dashboards, fragment):
    with pytest.raises(ConfigError, match=fragment):
        settings(dashboards=dashboards)


def test_grafana_url():
    assert settings(dashboards={"grafanaUrl": "https://grafana.example.com/g"}).dashboards.grafana_url == (
        "https://grafana.example.com/g"
    )


def rule_annotations(**sections) -> dict[str, dict[str, str]]:
    """Alert name -> annotations of the PrometheusRule the program registers for these settings."""
    from tools.evaluator.mock_engine import evaluate

    evaluation = evaluate({**BASE, **{f"calico-monitoring:{k}": v for k, v in sections.items()}})
    (rule,) = [r.plain_inputs for r in evaluation.registrations if r.type.endswith(":PrometheusRule")]
    return {r["alert"]: r["annotations"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}


def test_the_program_links_runbooks_and_dashboards_as_set():
    plain = rule_annotations()
    assert plain["CalicoFelixDown"]["runbook"] == "calico-monitoring docs/runbooks.md#calicofelixdown"
    assert not any("runbook_url" in a or "dashboard_url" in a for a in plain.values())
    linked = rule_annotations(
        alerts={"runbookUrlPattern": "https://wiki.example.com/{alert}", "clusterLabel": "cluster"},
        dashboards={"grafanaUrl": "https://grafana.example.com"},
    )
    assert linked["CalicoFelixDown"]["runbook_url"] == "https://wiki.example.com/CalicoFelixDown"
    assert linked["CalicoFelixDown"]["dashboard_url"] == (
        "https://grafana.example.com/d/calico-felix?from=now-3h&to=now"
        "{{ with $labels.cluster }}&var-cluster={{ . | urlquery }}{{ end }}"
        "{{ with $labels.node }}&var-node={{ . | urlquery }}{{ end }}"
    )
    # no dashboards shipped: nothing to link to
    off = rule_annotations(dashboards={"grafanaUrl": "https://grafana.example.com", "enabled": False})
    assert not any("dashboard_url" in a for a in off.values())
