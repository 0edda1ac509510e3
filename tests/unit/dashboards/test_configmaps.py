"""dashboards/configmaps.py: what the shipped dashboards become for a stack (thresholds, cluster), and their sizes."""

from __future__ import annotations

import json

import pytest

from alerts import ALERTS, DEFAULT_JOBS
from builders import promql
from configuration import DashboardSettings
from dashboards.configmaps import configmap_sizes, dashboard_files
from dashboards.document import DashboardError, canonical_json
from dashboards.loading import SHIPPED_DASHBOARDS, shipped_dashboards
from dashboards.scoping import CLUSTER_VARIABLE, add_cluster
from dashboards.thresholds import ALERT_PANELS
from tests.support.grafana import iter_panels, panel_queries, variables

DEFAULT_THRESHOLDS = {a.name: a.threshold for a in ALERTS if a.threshold is not None}


def panel(dashboard: dict, title: str) -> dict:
    (found,) = [p for p in iter_panels(dashboard) if p.get("title") == title]
    return found


def steps(found: dict) -> list[tuple[str, float | None]]:
    return [(s["color"], s["value"]) for s in found["fieldConfig"]["defaults"]["thresholds"]["steps"]]


def files(**kwargs) -> dict[str, dict]:
    settings = kwargs.pop("settings", DashboardSettings())
    return {key: json.loads(text) for key, text in dashboard_files(settings, dict(DEFAULT_JOBS), **kwargs).items()}


@pytest.mark.parametrize(("key", "title"), sorted(ALERT_PANELS))
def test_a_panel_that_mirrors_an_alert_draws_its_default_threshold_in_red(key, title):
    found = panel(shipped_dashboards()[key], title)
    alert = ALERT_PANELS[(key, title)]
    assert steps(found)[-1] == ("red", DEFAULT_THRESHOLDS[alert]), (title, alert)
    if found["type"] == "timeseries":
        assert found["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] == {"mode": "line"}
    assert alert in found["description"] and "alerts.overrides" in found["description"], title


def test_an_override_moves_every_line_of_its_alert():
    overrides = {"CalicoIPPoolNearlyExhausted": {"threshold": 0.7}, "CalicoFelixDataplaneApplySlow": {"threshold": 2}}
    built = files(alert_overrides=overrides)
    kc = built["kube-controllers.json"]
    # the orange step at 80% would sit above the moved red one: it goes
    assert steps(panel(kc, "Fullest pool")) == [("green", None), ("red", 0.7)]
    assert steps(panel(kc, "Pool utilisation"))[-1] == ("red", 0.7)
    assert steps(panel(built["felix.json"], "Dataplane apply time, 99th percentile"))[-1] == ("red", 2)
    # untouched alerts keep their lines
    assert steps(panel(built["typha.json"], "Client lag, 99th percentile"))[-1] == ("red", 60)
    assert steps(panel(files()["kube-controllers.json"], "Fullest pool")) == [
        ("green", None),
        ("orange", 0.8),
        ("red", 0.9),
    ]


def test_up_panels_show_the_target_count_and_are_red_at_zero():
    for key, title in (
        ("felix.json", "Felix agents up"),
        ("typha.json", "Typha instances up"),
        ("kube-controllers.json", "kube-controllers up"),
    ):
        found = panel(shipped_dashboards()[key], title)
        assert [t["expr"] for t in found["targets"]] == ['sum(up{job="$job"})', 'count(up{job="$job"})'], title
        assert steps(found) == [("red", None), ("green", 1)], title


def test_without_a_cluster_label_nothing_changes():
    for key, dashboard in files().items():
        assert CLUSTER_VARIABLE not in variables(dashboard), key
        assert "$cluster" not in json.dumps(dashboard), key


def test_with_a_cluster_label_every_selector_of_every_query_selects_the_cluster():
    built = files(settings=DashboardSettings(cluster_label="k8s_cluster"))
    assert set(built) == set(SHIPPED_DASHBOARDS.values())
    for key, dashboard in built.items():
        names = list(variables(dashboard))
        cluster = variables(dashboard)[CLUSTER_VARIABLE]
        assert cluster["type"] == "query" and not cluster["multi"] and not cluster["includeAll"]
        assert cluster["query"]["query"] == 'label_values(up{job="$job"}, k8s_cluster)'
        # after the job it reads, before the variables that read it
        assert names.index("job") < names.index(CLUSTER_VARIABLE) < names.index("top_n")
        queries = [q.expr for q in panel_queries(key, dashboard)]
        queries += [
            v["query"]["query"] for n, v in variables(dashboard).items() if v["type"] == "query" and n != "cluster"
        ]
        assert queries
        for expr in queries:
            expr = expr.removeprefix("label_values(").rsplit(",", 1)[0] if expr.startswith("label_values(") else expr
            selectors = promql.selectors(expr)
            assert all("k8s_cluster" in selector.labels for selector in selectors), (key, expr)
            assert expr.count('k8s_cluster="$cluster"') == len(selectors), (key, expr)


def test_a_cluster_variable_already_there_is_refused():
    dashboard = add_cluster(shipped_dashboards()["felix.json"], "cluster")
    with pytest.raises(DashboardError, match="already has a 'cluster' template variable"):
        add_cluster(dashboard, "cluster")
    with pytest.raises(DashboardError, match="Prometheus label name"):
        add_cluster(shipped_dashboards()["felix.json"], "__cluster")


def files_of_sizes(sizes: dict[str, int]) -> dict[str, str]:
    """{key: text} whose key + value (as a quoted JSON string) take exactly the given number of bytes."""
    return {key: "x" * (size - len(key) - 2) for key, size in sizes.items()}


def group_sizes(groups: list[dict[str, str]]) -> list[int]:
    return [
        sum(len(k.encode()) + len(json.dumps(v, ensure_ascii=False).encode()) for k, v in group.items())
        for group in groups
    ]


def test_configmap_sizes_count_utf8_bytes_and_allow_exactly_the_limit():
    files = {"ä.json": "ö" * 10}  # 7 + 20 bytes, and the 2 quotes of the JSON string
    assert group_sizes([files]) == [29]
    assert configmap_sizes(files, limit_bytes=29) == {"ä.json": 29}
    with pytest.raises(
        DashboardError, match=r"^ä.json: 29 bytes \(key and content\) is more than the ConfigMap limit of 28"
    ):
        configmap_sizes(files, limit_bytes=28)


def test_configmap_sizes_count_the_escapes_a_json_string_needs():
    """Quotes and newlines cost two bytes each in the ConfigMap as the API server stores it."""
    files = {"a.json": '{\n"x"\n}'}  # 6 + 7 characters, 4 of them escaped, and 2 quotes
    assert group_sizes([files]) == [19]
    assert configmap_sizes(files, limit_bytes=19) == {"a.json": 19}
    with pytest.raises(DashboardError, match=r"^a.json: 19 bytes"):
        configmap_sizes(files, limit_bytes=18)


def test_configmap_sizes_name_a_dashboard_that_can_never_fit():
    files = files_of_sizes({"small.json": 100, "huge.json": 5000})
    with pytest.raises(DashboardError, match=r"^huge.json: 5000 bytes"):
        configmap_sizes(files, limit_bytes=4096)
    with pytest.raises(DashboardError, match="positive"):
        configmap_sizes(files, limit_bytes=0)


def test_each_shipped_dashboard_fits_its_configmap():
    texts = {name: canonical_json(d) for name, d in shipped_dashboards().items()}
    assert set(configmap_sizes(texts)) == set(texts)
