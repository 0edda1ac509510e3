"""Extra labels and annotations for every alert (alerts.ruleLabels, alerts.ruleAnnotations) and for
the dashboard ConfigMaps (dashboards.annotations), as the program registers them."""

import pytest

from configuration import ConfigError, parse_settings
from tests.support.crd_schema import validate_monitoring_object
from tools.evaluator.mock_engine import evaluate

BASE = {"kubernetes:context": "c", "calico-monitoring:datastore": {"type": "kubernetes"}}
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
CONFIGMAP = "kubernetes:core/v1:ConfigMap"


def registered(config):
    return evaluate({**BASE, **{f"calico-monitoring:{k}": v for k, v in config.items()}})


def alert_rules(evaluation):
    rule = evaluation.one(RULE).plain_inputs
    return rule, [r for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r]


def test_every_alert_gets_the_stack_labels_and_annotations_beside_its_own():
    evaluation = registered(
        {
            "alerts": {
                "ruleLabels": {"team": "platform", "page": "true"},
                "ruleAnnotations": {"owner": "sre@example.com"},
                "overrides": {"CalicoFelixDown": {"severity": "critical"}},
            }
        }
    )
    rule, alerts = alert_rules(evaluation)
    validate_monitoring_object(rule)
    assert len(alerts) > 10
    for alert in alerts:
        assert alert["labels"]["team"] == "platform" and alert["labels"]["page"] == "true"
        assert alert["labels"]["severity"] in ("critical", "warning", "info")
        assert alert["annotations"]["owner"] == "sre@example.com"
        assert alert["annotations"]["summary"] and alert["annotations"]["description"]
    down = next(a for a in alerts if a["alert"] == "CalicoFelixDown")
    assert down["labels"]["severity"] == "critical"
    # Recording rules keep their series unchanged: no extra labels on what the dashboards read.
    records = [r for group in rule["spec"]["groups"] for r in group["rules"] if "record" in r]
    assert records and all("labels" not in r for r in records)


def test_without_them_an_alert_has_only_its_severity_label():
    _rule, alerts = alert_rules(registered({}))
    assert {tuple(a["labels"]) for a in alerts} == {("severity",)}


def test_dashboard_configmaps_carry_the_stack_annotations_and_the_folder():
    evaluation = registered({"dashboards": {"annotations": {"example.com/owner": "sre"}, "folder": "Calico"}})
    configmaps = evaluation.by_type(CONFIGMAP)
    assert configmaps
    for configmap in configmaps:
        assert configmap.plain_inputs["metadata"]["annotations"] == {
            "example.com/owner": "sre",
            "grafana_folder": "Calico",
        }
    plain = registered({}).by_type(CONFIGMAP)
    assert all("annotations" not in c.plain_inputs["metadata"] for c in plain)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"alerts": {"ruleLabels": {"severity": "page"}}},
            "calico-monitoring:alerts.ruleLabels.severity: each alert sets its own severity; "
            "change it per alert with overrides.<alert>.severity",
        ),
        (
            {"alerts": {"ruleAnnotations": {"runbook_url": "https://x"}}},
            "calico-monitoring:alerts.ruleAnnotations.runbook_url: the program writes runbook_url on every alert; "
            "choose another annotation name",
        ),
        (
            {"alerts": {"ruleLabels": {"team": "a b"}}},
            'calico-monitoring:alerts.ruleLabels.team: got "a b"',
        ),
        (
            {"dashboards": {"annotations": {"grafana_folder": "x"}, "folder": "Calico"}},
            "calico-monitoring:dashboards.annotations.grafana_folder: folder sets grafana_folder; set one of them",
        ),
    ],
)
def test_refused_before_anything_is_registered(config, message):
    with pytest.raises(ConfigError) as error:
        parse_settings({**BASE, **{f"calico-monitoring:{k}": v for k, v in config.items()}})
    assert message in str(error.value)
