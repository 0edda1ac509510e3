"""Every query of the shipped dashboards, run against a real Prometheus.

An in-process HTTP server serves Calico-shaped metrics (tests/fixtures/metrics/
calico_metrics.prom: real names, types and labels, counters growing at each
scrape). The real ``prometheus`` binary scrapes it as prometheus-operator would
scrape the Felix, Typha and kube-controllers pods, and evaluates the recording
rules this project deploys with the dashboards (``build_rule_groups(...,
include_alerts=False)``). Every panel query, with the dashboard variables filled
in, must parse; test_panels_on_fixtures.py states what each shows on the realistic fixtures.

The static tests at the top need no Prometheus: they check the queries against
the metric facts recorded in the fixture and against ``RECORDING_RULES``.
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest
import yaml

from alerts import COMPONENTS, RECORDING_RULES, build_rule_groups
from dashboards.loading import shipped_dashboards
from tests.support.expositions import load_registry
from tests.support.grafana import (
    Query,
    label_values_query,
    legend_labels,
    panel_queries,
    substitute,
    unresolved_variables,
    variables,
)
from tests.support.prometheus_harness import (
    FixtureMetrics,
    MetricsServer,
    Prometheus,
    PrometheusError,
    Target,
    is_finite,
    scrape_config,
    verified_families,
)
from tests.support.promql import Selector, selectors
from tests.support.promtool import run_promtool, write_rule_file

JOBS = {
    "felix.json": "monitoring/felix",
    "typha.json": "monitoring/calico-typha",
    "kube-controllers.json": "monitoring/calico-kube-controllers",
}
# kube-controllers scraped without the `node` target label, so the IPAM `node` label survives as is.
KUBE_CONTROLLERS_UNLABELLED_JOB = "monitoring/calico-kube-controllers-unlabelled"
# Serves every component's metrics under another job: a query that is not scoped would see them.
DECOY_JOB = "monitoring/decoy"
MISSING_JOB = "monitoring/no-such-job"

# The dashboard each component's recording rules are for.
DASHBOARD_COMPONENTS = {f"{component}.json": component for component in COMPONENTS}
# Recording rules as the program deploys them with the dashboards, one rule file per set of jobs: the
# jobs the dashboards are tested with, the unlabelled kube-controllers job, and the decoy (so a query
# on a recorded series that is not scoped to the job would see the decoy's series too).
RULE_FILES = {
    "calico-rules.yml": {DASHBOARD_COMPONENTS[name]: job for name, job in JOBS.items()},
    "calico-rules-unlabelled.yml": {"kube-controllers": KUBE_CONTROLLERS_UNLABELLED_JOB},
    "calico-rules-decoy.yml": dict.fromkeys(COMPONENTS, DECOY_JOB),
}
RECORDED_NAMES = {rule.record: rule.component for rule in RECORDING_RULES}
# A recorded series name anywhere in a query: a selector, a __name__ matcher or a regex.
_RECORDED_NAME = re.compile(r"(?<![A-Za-z0-9_:])calico:[A-Za-z0-9_:]*")

IPAM_NODES = {"worker-1", "worker-2", "worker-3"}
KUBE_CONTROLLERS_POD_NODE = "control-plane-1"

TARGETS = [
    Target("monitoring/felix", "felix", "calico-node-7xk2p", "worker-1", "10.0.0.11", 9091, "calico-node"),
    Target("monitoring/felix", "felix", "calico-node-m9q4d", "worker-2", "10.0.0.12", 9091, "calico-node"),
    Target("monitoring/felix", "felix", "calico-node-zt8wc", "worker-3", "10.0.0.13", 9091, "calico-node"),
    Target(
        "monitoring/calico-typha", "typha", "calico-typha-6d8f9-2lqnv", "worker-1", "10.0.0.11", 9093, "calico-typha"
    ),
    Target(
        "monitoring/calico-typha", "typha", "calico-typha-6d8f9-h7rxs", "worker-2", "10.0.0.12", 9093, "calico-typha"
    ),
    Target(
        "monitoring/calico-kube-controllers",
        "kube-controllers",
        "calico-kube-controllers-57b9d-vw2km",
        KUBE_CONTROLLERS_POD_NODE,
        "10.244.0.7",
        9094,
        "calico-kube-controllers",
    ),
    Target(
        KUBE_CONTROLLERS_UNLABELLED_JOB,
        "kube-controllers",
        "calico-kube-controllers-57b9d-unlab",
        KUBE_CONTROLLERS_POD_NODE,
        "10.244.0.8",
        9094,
        "calico-kube-controllers",
        add_node_label=False,
    ),
    Target(DECOY_JOB, "felix", "decoy-felix", "decoy-node", "10.0.9.1", 9091, "calico-node"),
    Target(DECOY_JOB, "typha", "decoy-typha", "decoy-node", "10.0.9.2", 9093, "calico-typha"),
    Target(DECOY_JOB, "kube-controllers", "decoy-kube-controllers", "decoy-node", "10.0.9.3", 9094, "calico-kc"),
]

# Grafana's built-in intervals, as Grafana would fill them for a short time range.
BUILTIN_VALUES = {
    "__rate_interval": "15s",
    "__interval": "2s",
    "__interval_ms": "2000",
    "__range": "1m",
    "__range_s": "60",
    "__range_ms": "60000",
}
# Scrapes of every target before querying: enough for rate() over 15s.
MIN_SAMPLES = 5
# Startup, the scrapes and the first evaluations of the recording rules together.
STARTUP_BUDGET_SECONDS = 60

RATE_FUNCTIONS = {"rate", "irate", "increase"}
SUMMARY_QUANTILES = {"0.5", "0.9", "0.99"}
GO_GC_QUANTILES = {"0", "0.25", "0.5", "0.75", "1"}


def variable_values(job: str) -> dict[str, str]:
    """What Grafana sends for the dashboard variables: the job, and "All" for the multi-value ones."""
    return {"job": job, "node": ".*", "ippool": ".*", "top_n": "10", **BUILTIN_VALUES}


def all_queries() -> list[Query]:
    return [query for name, dashboard in shipped_dashboards().items() for query in panel_queries(name, dashboard)]


def variable_queries() -> list[tuple[str, str, str]]:
    """(dashboard, variable name, label_values definition) of every query variable."""
    return [
        (name, var_name, variable["definition"])
        for name, dashboard in shipped_dashboards().items()
        for var_name, variable in variables(dashboard).items()
        if variable.get("type") == "query"
    ]


# --------------------------------------------------------------------------- static checks


def test_fixture_families_match_what_was_verified_in_calico():
    verified = verified_families()
    metrics = FixtureMetrics()
    assert set(metrics.sections) == {"felix", "typha", "kube-controllers"}
    problems = []
    for component, types in metrics.types.items():
        for family, kind in types.items():
            record = verified.get(family)
            if record is None:
                problems.append(f"{component}: {family} has no '# verified:' record")
            elif record.type != kind:
                problems.append(f"{component}: {family} is a {kind} here, verified as {record.type}")
        for line in metrics.sections[component]:
            if not line or line.startswith("#"):
                continue
            sample = line.split("{")[0].split()[0]
            family, kind = metrics.sample_family(component, sample)
            labels = set()
            if "{" in line:
                labels = {pair.split("=")[0].strip() for pair in line.split("{", 1)[1].split("}")[0].split(",")}
            if kind == "summary" and sample == family:
                labels.discard("quantile")
            expected = set(verified[family].labels) if family in verified else set()
            if labels != expected:
                problems.append(f"{component}: {line!r} has labels {sorted(labels)}, verified {sorted(expected)}")
    assert not problems, "\n".join(problems)


def test_fixture_is_valid_exposition_format(promtool):
    """promtool parses every section; its only complaints are Calico's counters without _total."""
    verified = verified_families()
    metrics = FixtureMetrics()
    for component in metrics.sections:
        result = subprocess.run(
            [promtool, "check", "metrics"],
            input=metrics.render(component, 1),
            capture_output=True,
            text=True,
            timeout=30,
        )
        output = (result.stdout + result.stderr).strip()
        assert result.returncode in (0, 3), f"{component}: promtool check metrics failed:\n{output}"
        for line in filter(None, output.splitlines()):
            name = line.split()[0]
            assert line.endswith('counter metrics should have "_total" suffix'), f"{component}: {line}"
            assert verified[name].type == "counter", f"{component}: {line}"


def test_every_selector_is_scoped_to_the_scrape_job():
    unscoped = []
    for query in all_queries():
        unscoped += [
            f"{query}: {s.metric or s.matchers}" for s in selectors(query.expr) if s.matcher("job") != ("=", "$job")
        ]
    for dashboard, name, definition in variable_queries():
        expr, _label = label_values_query(definition)
        unscoped += [
            f"{dashboard} variable {name}: {s.metric}" for s in selectors(expr) if s.matcher("job") != ("=", "$job")
        ]
    assert not unscoped, 'selectors without job="$job":\n' + "\n".join(unscoped)


def test_selectors_use_verified_metrics_as_their_type_requires():
    """Counters only under rate()/increase(), gauges never; summaries by one quantile or _sum/_count.

    Types come from the metric registry read from Calico's source (tests/fixtures/metrics/registry.yaml).
    """
    verified = load_registry()
    problems = []
    for query in all_queries():
        for selector in selectors(query.expr):
            name = selector.metric
            if name == "up" or name in RECORDED_NAMES:
                kind = "gauge"  # a recorded series is a gauge, whatever it was computed from
            elif name in verified:
                kind = verified[name].type
                if kind == "summary":
                    quantile = selector.matcher("quantile")
                    allowed = GO_GC_QUANTILES if name == "go_gc_duration_seconds" else SUMMARY_QUANTILES
                    if quantile is None or quantile[0] != "=" or quantile[1] not in allowed:
                        problems.append(f'{query}: {name} needs quantile="0.5|0.9|0.99", got {quantile}')
                    kind = "gauge"
            elif name and name.endswith(("_sum", "_count")) and name.rsplit("_", 1)[0] in verified:
                base = verified[name.rsplit("_", 1)[0]]
                kind = "counter" if base.type == "summary" else "unknown"
            else:
                problems.append(f"{query}: {name} is not a metric verified in Calico's source")
                continue
            under_rate = selector.function in RATE_FUNCTIONS
            if kind == "counter" and not under_rate:
                problems.append(f"{query}: counter {name} is used without rate()/increase()")
            if kind == "gauge" and under_rate:
                problems.append(f"{query}: gauge {name} is used under {selector.function}()")
            if kind == "unknown":
                problems.append(f"{query}: {name} is not a series of a verified family")
    assert not problems, "\n".join(problems)


def recorded_names_in(expr: str) -> set[str]:
    return set(_RECORDED_NAME.findall(expr))


def test_dashboards_and_recording_rules_are_for_the_same_components():
    assert set(DASHBOARD_COMPONENTS) == set(shipped_dashboards())
    assert {rule.component for rule in RECORDING_RULES} <= set(COMPONENTS)


def test_recorded_series_in_dashboards_are_recording_rules_of_their_component():
    """A calico:* name in a dashboard is the record of a rule in the same component's rule group."""
    problems = []
    references = [(str(q), q.dashboard, q.expr) for q in all_queries()] + [
        (f"{dashboard} variable {name}", dashboard, definition) for dashboard, name, definition in variable_queries()
    ]
    for where, dashboard, expr in references:
        component = DASHBOARD_COMPONENTS[dashboard]
        for name in sorted(recorded_names_in(expr)):
            if name not in RECORDED_NAMES:
                problems.append(f"{where}: {name} is not the record of any rule in RECORDING_RULES")
            elif RECORDED_NAMES[name] != component:
                problems.append(
                    f"{where}: {name} is recorded by a {RECORDED_NAMES[name]} rule, "
                    f"evaluated for the {RECORDED_NAMES[name]} job, not the {component} one"
                )
    assert not problems, "\n".join(problems)


def test_every_recording_rule_is_used_by_a_dashboard_panel():
    """Each recording rule shows on its component's dashboard: a panel and an alert never compute it twice."""
    used: dict[str, set[str]] = {}
    for query in all_queries():
        for name in recorded_names_in(query.expr):
            used.setdefault(name, set()).add(query.dashboard)
    unused = [
        f"{rule.record}: used by no panel of {rule.component}.json"
        for rule in RECORDING_RULES
        if f"{rule.component}.json" not in used.get(rule.record, set())
    ]
    assert not unused, "\n".join(unused)


def test_recorded_names_are_found_wherever_a_query_names_them():
    assert recorded_names_in('sum by (node) (calico:felix_int_dataplane_failures:rate1m{job="$job"})') == {
        "calico:felix_int_dataplane_failures:rate1m"
    }
    assert recorded_names_in('max({__name__="calico:ipam_ippool_utilisation:ratio", job="$job"})') == {
        "calico:ipam_ippool_utilisation:ratio"
    }
    assert recorded_names_in('{__name__=~"calico:ipam_.*"}') == {"calico:ipam_"}
    assert recorded_names_in('x_calico:foo{job="$job"} + felix_calico:bar') == set()


# --------------------------------------------------------------------------- real Prometheus


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory, prometheus_binary, promtool):
    workdir = tmp_path_factory.mktemp("prometheus")
    server = MetricsServer(FixtureMetrics())
    instance = None
    try:
        rule_files = []
        for file_name, jobs in RULE_FILES.items():
            groups = build_rule_groups(jobs, components=list(jobs), include_alerts=False)
            rule_files.append(write_rule_file(workdir / file_name, groups))
        run_promtool(promtool, "check", "rules", *map(str, rule_files), timeout=30)
        config_file = workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(scrape_config(TARGETS, server.port, rule_files), sort_keys=False))
        run_promtool(promtool, "check", "config", str(config_file), timeout=30)
        deadline = time.monotonic() + STARTUP_BUDGET_SECONDS
        instance = Prometheus(prometheus_binary, config_file, workdir / "data", workdir / "prometheus.log")
        instance.wait_ready(deadline)
        instance.wait_for_samples(TARGETS, MIN_SAMPLES, deadline)
        instance.wait_for_recorded_series(expected_recorded_series(), deadline)
        yield instance
    finally:
        if instance is not None:
            instance.stop()
        server.close()


def expected_recorded_series() -> set[tuple[str, str]]:
    """(record, job) of every series the rule files record."""
    return {
        (rule.record, jobs[rule.component])
        for jobs in RULE_FILES.values()
        for rule in RECORDING_RULES
        if rule.component in jobs
    }


def check_query(prometheus: Prometheus, query: Query, job: str, now: float) -> tuple[list[str], int]:
    """(problems, number of series) of one panel query run for ``job``."""
    expr = substitute(query.expr, variable_values(job))
    left = unresolved_variables(expr)
    if left:
        return [f"{query}: unknown variables {left}"], 0
    try:
        result = prometheus.query(expr, at=now)
    except PrometheusError as err:
        return [f"{query}: {err}\n    {expr}"], 0
    problems = []
    if not result:
        problems.append(f"{query}: no data for job {job}\n    {expr}")
    for series in result:
        if not is_finite(series["value"][1]):
            problems.append(f"{query}: value {series['value'][1]} for {series['metric']}")
        missing = [label for label in legend_labels(query.legend) if not series["metric"].get(label)]
        if missing:
            problems.append(f"{query}: legend {query.legend!r} uses {missing}, absent from {series['metric']}")
    if query.panel_type == "timeseries" and result:
        try:
            if not prometheus.query_range(expr, start=now - 20, end=now, step=2):
                problems.append(f"{query}: range query returned nothing\n    {expr}")
        except PrometheusError as err:
            problems.append(f"{query}: range query: {err}")
    try:
        stray = prometheus.query(substitute(query.expr, variable_values(MISSING_JOB)), at=now)
    except PrometheusError as err:
        problems.append(f"{query}: {err}")
    else:
        if stray:
            problems.append(f"{query}: returns data for a job that does not exist: {stray[0]['metric']}")
    return problems, len(result)


def selector_text(selector: Selector) -> str:
    """The selector alone, as PromQL (the dashboards quote label values with double quotes)."""
    matchers = ", ".join(f'{label}{op}"{value}"' for label, op, value in selector.matchers)
    return f"{selector.metric or ''}{{{matchers}}}"


def filter_problems(prometheus: Prometheus, query: Query, job: str, now: float) -> list[str]:
    """Labels a selector filters on (node=~"$node", ippool=~"$ippool", ...) that its series do not have.

    With "All" selected such a filter matches the empty value, so a label the series lack
    (say one a recording rule aggregated away) would go unnoticed until somebody picks a value.
    """
    problems = []
    for selector in selectors(query.expr):
        labels = [label for label, _op, _value in selector.matchers if label != "__name__"]
        expr = substitute(selector_text(selector), variable_values(job))
        for series in prometheus.query(expr, at=now):
            missing = [label for label in labels if not series["metric"].get(label)]
            if missing:
                problems.append(
                    f"{query}: {selector_text(selector)} filters on {missing}, absent from {series['metric']}"
                )
                break
    return problems


def test_series_have_the_labels_panels_filter_on(prometheus):
    now = time.time()
    problems = []
    for query in all_queries():
        problems += filter_problems(prometheus, query, JOBS[query.dashboard], now)
    assert not problems, "\n".join(problems)


def test_variable_queries_return_values(prometheus):
    problems = []
    for dashboard, name, definition in variable_queries():
        expr, label = label_values_query(definition)
        result = prometheus.query(substitute(expr, variable_values(JOBS[dashboard])))
        values = {series["metric"].get(label) for series in result} - {None, ""}
        if not values:
            problems.append(f"{dashboard} variable {name}: {definition} has no values")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("job", ["monitoring/calico-kube-controllers", KUBE_CONTROLLERS_UNLABELLED_JOB])
def test_kube_controllers_per_node_panels_name_the_ipam_node(prometheus, job):
    """With or without a `node` target label on the scrape, per-node IPAM panels show IPAM nodes."""
    now = time.time()
    queries = panel_queries("kube-controllers.json", shipped_dashboards()["kube-controllers.json"])
    per_node = [q for q in queries if "ipam_node" in legend_labels(q.legend)]
    assert per_node, "no per-node IPAM panels"
    problems = []
    for query in queries:
        problems += check_query(prometheus, query, job, now)[0]
    for query in per_node:
        result = prometheus.query(substitute(query.expr, variable_values(job)), at=now)
        nodes = {series["metric"].get("ipam_node") for series in result}
        if not nodes or not nodes <= IPAM_NODES:
            problems.append(
                f"{query}: ipam_node values {sorted(map(str, nodes))}, expected some of {sorted(IPAM_NODES)}"
            )
    assert not problems, "\n".join(problems)


def test_the_harness_reports_broken_queries(prometheus):
    """The checks above can fail: syntax errors, misspelt metrics and recorded series, wrong labels are caught."""
    now = time.time()
    broken = Query(
        "felix.json",
        "broken",
        "timeseries",
        "A",
        'sum by (node) (rate(felix_int_dataplane_failures{job="$job"}[5m])',
        "{{node}}",
    )
    misspelt = Query(
        "felix.json",
        "misspelt",
        "timeseries",
        "A",
        'sum by (node) (felix_active_local_endpoint{job="$job"})',
        "{{node}}",
    )
    wrong_legend = Query(
        "felix.json", "legend", "timeseries", "A", 'sum by (node) (felix_active_local_endpoints{job="$job"})', "{{pod}}"
    )
    unscoped = Query("felix.json", "unscoped", "timeseries", "A", "max(felix_cluster_num_hosts)", "")
    misspelt_record = Query(
        "felix.json",
        "misspelt recorded series",
        "timeseries",
        "A",
        'sum by (node) (calico:felix_int_dataplane_failures:rate1m{job="$job", node=~"$node"})',
        "{{node}}",
    )
    label_aggregated_away = Query(
        "kube-controllers.json",
        "filter on a label the recording rule drops",
        "timeseries",
        "A",
        'max by (ippool) (calico:ipam_ippool_utilisation:ratio{job="$job", pod=~".*"})',
        "{{ippool}}",
    )
    assert "parse error" in "\n".join(check_query(prometheus, broken, JOBS["felix.json"], now)[0])
    assert "no data" in "\n".join(check_query(prometheus, misspelt, JOBS["felix.json"], now)[0])
    assert "absent from" in "\n".join(check_query(prometheus, wrong_legend, JOBS["felix.json"], now)[0])
    assert "does not exist" in "\n".join(check_query(prometheus, unscoped, JOBS["felix.json"], now)[0])
    assert "no data" in "\n".join(check_query(prometheus, misspelt_record, JOBS["felix.json"], now)[0])
    job = JOBS["kube-controllers.json"]
    assert check_query(prometheus, label_aggregated_away, job, now)[0] == []
    assert "filters on ['pod']" in "\n".join(filter_problems(prometheus, label_aggregated_away, job, now))
