"""The configuration model and the rule builder (``alerts``) take the same alert settings, with the same words."""

import math

import pytest

from alerts import ALERTS, build_rule_groups, validate_overrides
from configuration import ConfigError, parse_settings

KDD = {"kubernetes:context": "prod", "calico-monitoring:datastore": {"type": "kubernetes"}}
THRESHOLD_ALERTS = [alert.name for alert in ALERTS if "threshold" in alert.fields]


def model_problems(alerts: dict) -> list[str] | None:
    try:
        parse_settings({**KDD, "calico-monitoring:alerts": alerts})
    except ConfigError as error:
        return str(error).splitlines()[1:]
    return None


def rules_take(overrides: dict) -> bool:
    try:
        validate_overrides(overrides)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    "duration",
    ["0", "0s", "30s", "1h30m", "1y2w3d4h5m6s7ms", "", "00", "0\n", "5", "5M", "1.5h", "5m1h", " 5m", 300,
     "\u0665m", "\uff15m", "1h\u0665m"],
)  # fmt: skip
def test_an_alert_for_is_taken_by_both_or_neither(duration):
    overrides = {"CalicoFelixDown": {"for": duration}}
    assert (model_problems({"overrides": overrides}) is None) is rules_take(overrides)


@pytest.mark.parametrize("alert", THRESHOLD_ALERTS)
@pytest.mark.parametrize("threshold", [0.5, 1, 1.0000001, 2, 90, 0, -1, True, "3", None, math.nan, math.inf])
def test_an_alert_threshold_is_taken_by_both_or_neither_and_explained_alike(alert, threshold):
    overrides = {alert: {"threshold": threshold}}
    found = model_problems({"overrides": overrides})
    assert (found is None) is rules_take(overrides)
    if found is not None:
        with pytest.raises(ValueError) as error:
            validate_overrides(overrides)
        # One problem, with the same accepted range and meaning, whatever the wording around them.
        assert len(found) == 1
        assert found[0].partition("; expected ")[2] == str(error.value).partition("; expected ")[2]


def test_a_duration_in_other_digits_is_refused_with_the_usual_words():
    assert model_problems({"overrides": {"CalicoFelixDown": {"for": "\u0665m"}}}) == [
        '  - calico-monitoring:alerts.overrides.CalicoFelixDown.for: got "\u0665m"; expected a Prometheus duration '
        "such as 30s, 5m, 1h30m or 1d (units ms, s, m, h, d, w, y)"
    ]
    assert model_problems({"overrides": {"CalicoFelixDown": {"for": "5m"}}}) is None


def test_a_threshold_out_of_range_is_one_problem():
    assert model_problems({"overrides": {"CalicoIPPoolNearlyExhausted": {"threshold": math.inf}}}) == [
        "  - calico-monitoring:alerts.overrides.CalicoIPPoolNearlyExhausted.threshold: got Infinity; expected a "
        "number greater than 0 and at most 1 (fraction of the pool's usable addresses in use)"
    ]


@pytest.mark.parametrize("name", ["cluster", "_x", "__name__", "k8s-cluster", "1a", ""])
def test_a_cluster_label_is_taken_by_both_or_neither(name):
    try:
        build_rule_groups({}, cluster_label=name)
        rules = True
    except ValueError:
        rules = False
    assert (model_problems({"clusterLabel": name}) is None) is rules


@pytest.mark.parametrize(
    "pattern",
    ["https://wiki.example.com/{alert}", "https://wiki.example.com/x#{anchor}", "https://wiki.example.com/{name}",
     "https://user@wiki.example.com/{alert}", "https://wiki.example.com/{alert} x", "docs/runbooks.md#{anchor}"],
)  # fmt: skip
def test_a_runbook_url_pattern_is_taken_by_both_or_neither(pattern):
    try:
        build_rule_groups({}, runbook_url_pattern=pattern)
        rules = True
    except ValueError:
        rules = False
    assert (model_problems({"runbookUrlPattern": pattern}) is None) is rules


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("dashboards", {"grafanaUrl": "https://grafana.example.com/a b"}),
        ("alerts", {"runbookBaseUrl": "https://user@wiki.example.com/calico"}),
        ("alerts", {"runbookBaseUrl": "https://wiki.example.com/{x}"}),
    ],
)
def test_a_link_the_rules_would_refuse_is_refused_as_a_setting(key, value):
    # The rules link Grafana and the runbooks; a URL they cannot link is a configuration error, not a crash.
    with pytest.raises(ConfigError) as error:
        parse_settings({**KDD, f"calico-monitoring:{key}": value})
    assert f"calico-monitoring:{key}.{next(iter(value))}" in str(error.value)
