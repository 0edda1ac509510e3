"""prometheusSelection in the program: the preflight chart is told every monitor and rule the program creates,
with the labels it creates them with; `warn` tells it nothing and warns instead; `off` does neither."""

import pulumi
import pytest

from tools.evaluator.mock_engine import evaluate

BASE = {"kubernetes:context": "c", "calico-monitoring:datastore": {"type": "kubernetes"}}
PREFIX = "calico-monitoring:"
PREFLIGHT_CHART = "kubernetes:helm.sh/v4:Chart"
USED_BY_PROMETHEUS = ("PodMonitor", "ServiceMonitor", "PrometheusRule")


def run(config, monkeypatch):
    """The evaluation and the warnings about prometheusSelection the program logged."""
    warnings = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message))
    evaluation = evaluate({**BASE, **{PREFIX + k: v for k, v in config.items()}})
    return evaluation, [warning for warning in warnings if "prometheusSelection" in warning]


def chart_values(evaluation):
    [chart] = [r for r in evaluation.registrations if r.type == PREFLIGHT_CHART]
    return chart.plain_inputs["values"]


@pytest.mark.parametrize(
    "config",
    [
        {"podMonitor": {"labels": {"release": "kube-prometheus-stack"}}},
        {"typha": {"enabled": True, "monitor": {"labels": {"tier": "typha"}}}},
        {"felix": {"scrape": "service"}, "alerts": {"namespace": "rules", "labels": {"role": "alert-rules"}}},
        {"install": "operator", "podMonitor": {"namespace": "observability"}},
        {"felix": {"monitor": {"enabled": False}}, "alerts": {"enabled": False}},
    ],
    ids=["labelled", "typha-own-labels", "service-scrape-rule-elsewhere", "operator", "fewer"],
)
def test_the_chart_is_told_every_monitor_and_rule_as_the_program_creates_them(config, monkeypatch):
    evaluation, warnings = run(config, monkeypatch)
    created = {
        (r.type.split(":")[-1], r.plain_inputs["metadata"]["namespace"], r.plain_inputs["metadata"]["name"]): dict(
            r.plain_inputs["metadata"].get("labels") or {}
        )
        for r in evaluation.registrations
        if r.type.split(":")[-1] in USED_BY_PROMETHEUS
    }
    told = {(c["kind"], c["namespace"], c["name"]): c["labels"] for c in chart_values(evaluation)["mustBeSelected"]}
    assert told == created
    assert warnings == []


def test_warn_tells_the_chart_nothing_and_warns_and_off_does_neither(monkeypatch):
    evaluation, warnings = run({"prometheusSelection": "warn"}, monkeypatch)
    assert "mustBeSelected" not in chart_values(evaluation)
    assert len(warnings) == 1 and warnings[0].startswith("calico-monitoring:prometheusSelection is warn")
    assert "- PodMonitor monitoring/felix (labels k8s-app=calico-node)" in warnings[0]
    evaluation, warnings = run({"prometheusSelection": "off"}, monkeypatch)
    assert "mustBeSelected" not in chart_values(evaluation)
    assert warnings == []
