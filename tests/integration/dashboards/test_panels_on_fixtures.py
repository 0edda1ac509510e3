"""Every panel of every shipped dashboard, on every realistic fixture, against a real Prometheus.

Each fixture in tests/fixtures/metrics/targets/ is served as its own scrape job (two pods
for Felix and Typha, one for kube-controllers) and Prometheus evaluates the recording
rules for each job. Every panel query then runs with ``$job`` set to a fixture's job,
and what it shows must be what tests/integration/dashboards/panel_expectations.yaml says for that
panel on that fixture:

* ``value``: at least one series, every value a finite number, one of them not 0;
* ``zero``: at least one series, every value exactly 0 (a healthy error rate);
* ``none``: no series: "No data" is the truth there (a summary with nothing observed
  in its window, a family the fixture does not have).

A NaN is never acceptable: no panel may show NaN to a person.

Every target carries a ``cluster`` label and the rules keep it (``alerts.clusterLabel``), so
the same queries also run as ``dashboards.clusterLabel`` rewrites them: the same on the
fixture's cluster, nothing on another. A second kube-controllers job serves one fixture
from two pods at once (a rollout): its pool panels must read as the one-pod job does.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
import yaml

from alerts import build_rule_groups
from dashboards.loading import shipped_dashboards
from dashboards.scoping import add_cluster
from tests.support.expositions import Exposition, load_expositions
from tests.support.grafana import Query, panel_queries, substitute, unresolved_variables
from tests.support.prometheus_harness import Prometheus, PrometheusError, Target, scrape_config
from tests.support.promtool import write_rule_file

EXPECTATIONS_FILE = Path(__file__).with_name("panel_expectations.yaml")
EXPOSITIONS = load_expositions()
DASHBOARD_COMPONENT = {"felix.json": "felix", "typha.json": "typha", "kube-controllers.json": "kube-controllers"}
KINDS = ("value", "zero", "none")
BUILTIN_VALUES = {"__rate_interval": "15s", "__interval": "2s", "__range": "1m", "top_n": "10"}
MIN_SAMPLES = 8
STARTUP_BUDGET_SECONDS = 60
CLUSTER = "fixture-cluster"
# kube-controllers-trouble served by two pods at once, as during a rollout.
ROLLOUT_FIXTURE = "kube-controllers-trouble"
ROLLOUT_JOB = "fixture/kube-controllers-rollout"
# Panels of one value per pod, or of events each pod counts itself: two pods rightly show more.
PER_POD_PANELS = {
    "kube-controllers up / A",
    "kube-controllers up / B",
    "CPU / A",
    "Resident memory / A",
    "Restarts in the preceding hour / A",
    "Leak garbage collection / B",
}


def job_of(fixture: str) -> str:
    return f"fixture/{fixture}"


def targets() -> list[Target]:
    out = []
    for n, (name, exposition) in enumerate(sorted(EXPOSITIONS.items()), start=1):
        component = exposition.component
        pods = 1 if component == "kube-controllers" else 2
        port = {"felix": 9091, "typha": 9093, "kube-controllers": 9094}[component]
        for pod in range(1, pods + 1):
            out.append(
                Target(
                    job_of(name),
                    name,
                    f"{name}-{pod}",
                    f"node-{n}-{pod}",
                    f"10.1.{n}.{pod}",
                    port,
                    component,
                    add_node_label=component != "kube-controllers",
                )
            )
    for pod in (1, 2):
        out.append(
            Target(
                ROLLOUT_JOB,
                ROLLOUT_FIXTURE,
                f"rollout-{pod}",
                f"node-r-{pod}",
                f"10.2.0.{pod}",
                9094,
                "kube-controllers",
                add_node_label=False,
            )
        )
    return out


def with_cluster_label(config: dict) -> dict:
    """Every target gets ``cluster``, as a multi-cluster Prometheus' external label or Thanos would add it."""
    for scrape in config["scrape_configs"]:
        scrape["relabel_configs"].append({"target_label": "cluster", "replacement": CLUSTER})
    return config


class FixtureServer:
    """Serves /metrics/<fixture>/<pod>, counting scrapes per path."""

    def __init__(self, expositions: dict[str, Exposition]) -> None:
        from tests.support.prometheus_harness import MetricsServer

        class Sections:
            sections = expositions

            @staticmethod
            def render(fixture: str, scrape: int) -> str:
                return expositions[fixture].render(scrape)

        self._server = MetricsServer(Sections)  # type: ignore[arg-type]
        self.port = self._server.port

    def close(self) -> None:
        self._server.close()


def expectations() -> dict[str, dict[str, dict[str, str]]]:
    return yaml.safe_load(EXPECTATIONS_FILE.read_text(encoding="utf-8"))


def queries() -> list[Query]:
    return [q for name, dashboard in shipped_dashboards().items() for q in panel_queries(name, dashboard)]


def query_key(query: Query) -> str:
    return f"{query.panel_title} / {query.ref_id}"


def classify(result: list[dict] | str) -> str:
    if isinstance(result, str):
        return result
    if not result:
        return "none"
    values = [float(series["value"][1]) for series in result]
    if any(math.isnan(v) for v in values):
        return "NaN"
    return "zero" if all(v == 0 for v in values) else "value"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory, prometheus_binary):
    workdir = tmp_path_factory.mktemp("prometheus-fixtures")
    server = FixtureServer(EXPOSITIONS)
    instance = None
    try:
        rule_files = []
        for name, exposition in sorted(EXPOSITIONS.items()):
            groups = build_rule_groups(
                {exposition.component: job_of(name)},
                components=[exposition.component],
                include_alerts=False,
                cluster_label="cluster",
            )
            rule_files.append(write_rule_file(workdir / f"{name}.rules.yml", groups))
        rollout = build_rule_groups(
            {"kube-controllers": ROLLOUT_JOB},
            components=["kube-controllers"],
            include_alerts=False,
            cluster_label="cluster",
        )
        rule_files.append(write_rule_file(workdir / "rollout.rules.yml", rollout))
        config_file = workdir / "prometheus.yml"
        all_targets = targets()
        config = with_cluster_label(scrape_config(all_targets, server.port, rule_files))
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        deadline = time.monotonic() + STARTUP_BUDGET_SECONDS
        instance = Prometheus(prometheus_binary, config_file, workdir / "data", workdir / "prometheus.log")
        instance.wait_ready(deadline)
        instance.wait_for_samples(all_targets, MIN_SAMPLES, deadline)
        yield instance
    finally:
        if instance is not None:
            instance.stop()
        server.close()


def observe(
    prometheus: Prometheus, query: Query, fixture: str, now: float, job: str | None = None, **values: str
) -> str:
    return classify(run(prometheus, query, job or job_of(fixture), now, **values))


def run(prometheus: Prometheus, query: Query, job: str, now: float, **values: str) -> list[dict] | str:
    expr = substitute(query.expr, {"job": job, "node": ".*", "ippool": ".*", **BUILTIN_VALUES, **values})
    left = unresolved_variables(expr)
    if left:
        return f"unknown variables {left}"
    try:
        return prometheus.query(expr, at=now)
    except PrometheusError as err:
        return f"error {err}"


def test_expectations_name_every_panel_query_and_only_known_kinds():
    table = expectations()
    for dashboard, component in DASHBOARD_COMPONENT.items():
        keys = {query_key(q) for q in queries() if q.dashboard == dashboard}
        assert set(table[dashboard]) == keys, dashboard
        fixtures = {n for n, e in EXPOSITIONS.items() if e.component == component}
        for key, row in table[dashboard].items():
            assert set(row) <= {"all", *fixtures}, (dashboard, key)
            assert set(row.values()) <= set(KINDS), (dashboard, key)


def test_every_panel_on_every_fixture_shows_what_it_should(prometheus):
    now = time.time()
    table = expectations()
    problems = []
    checked = 0
    for query in queries():
        component = DASHBOARD_COMPONENT[query.dashboard]
        row = table[query.dashboard][query_key(query)]
        for fixture in sorted(n for n, e in EXPOSITIONS.items() if e.component == component):
            expected = row.get(fixture, row.get("all"))
            seen = observe(prometheus, query, fixture, now)
            checked += 1
            if seen != expected:
                problems.append(f"{query} on {fixture}: shows {seen}, expected {expected}")
    assert checked > 200
    assert not problems, "\n".join(problems)


def test_the_classification_sees_nan_and_zero():
    assert classify([]) == "none"
    assert classify([{"value": [0, "0"]}, {"value": [0, "0"]}]) == "zero"
    assert classify([{"value": [0, "0"]}, {"value": [0, "2.5"]}]) == "value"
    assert classify([{"value": [0, "1"]}, {"value": [0, "NaN"]}]) == "NaN"


def cluster_queries() -> list[Query]:
    return [
        q
        for name, dashboard in shipped_dashboards().items()
        for q in panel_queries(name, add_cluster(dashboard, "cluster"))
    ]


def test_with_a_cluster_label_every_panel_shows_its_cluster_and_nothing_of_another(prometheus):
    now = time.time()
    table = expectations()
    problems = []
    queries_ = cluster_queries()
    assert len(queries_) == len(queries())
    for query in queries_:
        component = DASHBOARD_COMPONENT[query.dashboard]
        row = table[query.dashboard][query_key(query)]
        for fixture in sorted(n for n, e in EXPOSITIONS.items() if e.component == component):
            expected = row.get(fixture, row.get("all"))
            seen = observe(prometheus, query, fixture, now, cluster=CLUSTER)
            if seen != expected:
                problems.append(f"{query} on {fixture} in its cluster: shows {seen}, expected {expected}")
            other = observe(prometheus, query, fixture, now, cluster="another-cluster")
            if other != "none":
                problems.append(f"{query} on {fixture} in another cluster: shows {other}, expected none")
    assert not problems, "\n".join(problems)


def comparable(result: list[dict] | str) -> list[tuple[str, float]] | str:
    if isinstance(result, str):
        return result
    rows = []
    for series in result:
        labels = {k: v for k, v in series["metric"].items() if k not in ("job", "instance", "pod")}
        rows.append((json.dumps(labels, sort_keys=True), round(float(series["value"][1]), 6)))
    return sorted(rows)


def test_kube_controllers_pool_panels_count_a_rollouts_two_pods_once(prometheus):
    """During a rollout two kube-controllers pods report the same pools; the panels read one, as the rules do."""
    now = time.time()
    problems = []
    compared = 0
    for query in queries():
        if query.dashboard != "kube-controllers.json" or query_key(query) in PER_POD_PANELS:
            continue
        one = comparable(run(prometheus, query, job_of(ROLLOUT_FIXTURE), now))
        two = comparable(run(prometheus, query, ROLLOUT_JOB, now))
        compared += 1
        if one != two:
            problems.append(f"{query}: one pod shows {one}, two pods show {two}")
    assert compared >= 12
    assert not problems, "\n".join(problems)
