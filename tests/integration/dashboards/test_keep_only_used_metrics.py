"""``podMonitor.keepOnlyUsedMetrics`` against a real Prometheus, on the realistic fixtures.

Every fixture in tests/fixtures/metrics/targets/ is scraped twice: as ``full/<fixture>``
as the monitors scrape it by default, and as ``kept/<fixture>`` with the keep relabeling
the program generates for that component, turned into the ``metric_relabel_configs``
prometheus-operator writes for a ``metricRelabelings`` entry. Prometheus evaluates the
recording rules and alerts for both jobs. Then:

* every panel of the component's dashboard shows the same (value, zero or none) on both
  jobs, and what panel_expectations.yaml says;
* every recording rule and alert expression gives the same on both jobs, and every
  recorded series exists for both;
* each target has, per job, the series Prometheus counts for it: the exposition's
  samples (or only the kept ones) plus the series Prometheus writes itself, which the
  "Prometheus cost" table of docs/configuration.md states.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from alerts import build_rule_groups
from builders.manifests import felix_pod_monitor
from builders.used_metrics import GENERATED_SERIES, keep_relabeling, shipped_used_names
from configuration import CalicoNodeSettings, PodMonitorSettings
from tests.integration.dashboards.test_panels_on_fixtures import (
    BUILTIN_VALUES,
    DASHBOARD_COMPONENT,
    FixtureServer,
    classify,
    expectations,
    queries,
    query_key,
)
from tests.paths import ROOT
from tests.support.expositions import Exposition, load_expositions
from tests.support.grafana import substitute, unresolved_variables
from tests.support.prometheus_harness import Prometheus, PrometheusError, Target, scrape_config
from tests.support.promtool import write_rule_file

EXPOSITIONS = load_expositions()
VARIANTS = ("full", "kept")
PORTS = {"felix": 9091, "typha": 9093, "kube-controllers": 9094}
# Prometheus (2.53 and 3.16 alike) writes these five for every target (more only with extra-scrape-metrics).
PER_TARGET_SERIES = ("up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling",
                     "scrape_series_added")  # fmt: skip
MIN_SAMPLES = 8
STARTUP_BUDGET_SECONDS = 90
COST_TABLE_PAGE = ROOT / "docs" / "configuration.md"
# Names that are the program's own: recorded series and Prometheus' alert state.
NOT_SCRAPED = '__name__!~".+:.+|ALERTS|ALERTS_FOR_STATE"'


def job(variant: str, fixture: str) -> str:
    return f"{variant}/{fixture}"


def keep_entry(component: str) -> dict[str, Any]:
    """The metricRelabelings entry of the component's monitor, as the program renders it."""
    settings = PodMonitorSettings(keep_only_used_metrics=True)
    if component == "felix":
        endpoint = felix_pod_monitor(settings, CalicoNodeSettings())["spec"]["podMetricsEndpoints"][0]
        [entry] = endpoint["metricRelabelings"]
        assert entry == keep_relabeling(shipped_used_names("felix"))
        return entry
    return keep_relabeling(shipped_used_names(component))


def as_metric_relabel_config(entry: dict[str, Any]) -> dict[str, Any]:
    """What prometheus-operator writes for a RelabelConfig of a monitor (camelCase to snake_case)."""
    fields = {"sourceLabels": "source_labels", "regex": "regex", "action": "action", "separator": "separator",
              "targetLabel": "target_label", "replacement": "replacement"}  # fmt: skip
    unknown = set(entry) - set(fields)
    assert not unknown, f"not a RelabelConfig field: {unknown}"
    return {fields[key]: value for key, value in entry.items()}


def targets() -> list[Target]:
    out = []
    for n, (name, exposition) in enumerate(sorted(EXPOSITIONS.items()), start=1):
        component = exposition.component
        for v, variant in enumerate(VARIANTS, start=1):
            for pod in range(1, (1 if component == "kube-controllers" else 2) + 1):
                out.append(
                    Target(
                        job(variant, name),
                        name,
                        f"{variant}-{name}-{pod}",
                        f"node-{n}-{v}-{pod}",
                        f"10.{v}.{n}.{pod}",
                        PORTS[component],
                        component,
                        add_node_label=component != "kube-controllers",
                    )
                )
    return out


def rule_groups(variant: str, fixture: str) -> list[dict[str, Any]]:
    component = EXPOSITIONS[fixture].component
    return build_rule_groups({component: job(variant, fixture)}, components=[component])


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory, prometheus_binary):
    workdir = tmp_path_factory.mktemp("prometheus-keep")
    server = FixtureServer(EXPOSITIONS)
    instance = None
    try:
        rule_files = [
            write_rule_file(workdir / f"{variant}-{name}.rules.yml", rule_groups(variant, name))
            for name in sorted(EXPOSITIONS)
            for variant in VARIANTS
        ]
        all_targets = targets()
        config = scrape_config(all_targets, server.port, rule_files)
        for scrape in config["scrape_configs"]:
            variant, fixture = scrape["job_name"].split("/")[1:3]
            if variant == "kept":
                entry = keep_entry(EXPOSITIONS[fixture].component)
                scrape["metric_relabel_configs"] = [as_metric_relabel_config(entry)]
        config_file = workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        deadline = time.monotonic() + STARTUP_BUDGET_SECONDS
        instance = Prometheus(prometheus_binary, config_file, workdir / "data", workdir / "prometheus.log")
        instance.wait_ready(deadline)
        instance.wait_for_samples(all_targets, MIN_SAMPLES, deadline)
        recorded = {
            (rule["record"], job(variant, name))
            for name in EXPOSITIONS
            for variant in VARIANTS
            for group in rule_groups(variant, name)
            for rule in group["rules"]
            if "record" in rule
        }
        instance.wait_for_recorded_series(recorded, deadline)
        yield instance
    finally:
        if instance is not None:
            instance.stop()
        server.close()


def settled_time(prometheus: Prometheus, budget: float = 60) -> float:
    """A moment at which every target's last five seconds of scrapes all succeeded.

    On a loaded machine a scrape can time out; its series then go stale at once, and a
    query at that moment would see "none" for reasons that have nothing to do with keeping.
    """
    expected = len(targets())
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        at = time.time()
        result = prometheus.query('min_over_time(up{job=~"full/.+|kept/.+"}[5s])', at=at)
        if len(result) == expected and all(float(r["value"][1]) == 1 for r in result):
            return at
        time.sleep(0.5)
    raise PrometheusError(f"some targets kept failing their scrapes:\n{prometheus.log_tail()}")


def observe(prometheus: Prometheus, expr: str, now: float) -> str:
    try:
        return classify(prometheus.query(expr, at=now))
    except PrometheusError as err:
        return f"error {err}"


def test_every_panel_shows_the_same_with_only_the_used_metrics_kept(prometheus):
    now = settled_time(prometheus)
    table = expectations()
    problems, checked = [], 0
    for query in queries():
        component = DASHBOARD_COMPONENT[query.dashboard]
        row = table[query.dashboard][query_key(query)]
        for fixture in sorted(n for n, e in EXPOSITIONS.items() if e.component == component):
            seen = {}
            for variant in VARIANTS:
                values = {"job": job(variant, fixture), "node": ".*", "ippool": ".*", **BUILTIN_VALUES}
                expr = substitute(query.expr, values)
                assert not unresolved_variables(expr), query
                seen[variant] = observe(prometheus, expr, now)
            checked += 1
            expected = row.get(fixture, row.get("all"))
            if seen["kept"] != seen["full"] or seen["kept"] != expected:
                problems.append(f"{query} on {fixture}: full {seen['full']}, kept {seen['kept']}, expected {expected}")
    assert checked > 200
    assert not problems, "\n".join(problems)


def test_every_rule_and_alert_expression_gives_the_same_with_only_the_used_metrics_kept(prometheus):
    now = settled_time(prometheus)
    problems, seen_kinds = [], set()
    for fixture in sorted(EXPOSITIONS):
        full, kept = (rule_groups(variant, fixture) for variant in VARIANTS)
        for full_group, kept_group in zip(full, kept, strict=True):
            for full_rule, kept_rule in zip(full_group["rules"], kept_group["rules"], strict=True):
                name = full_rule.get("record") or full_rule["alert"]
                a = prometheus.query(full_rule["expr"], at=now)
                b = prometheus.query(kept_rule["expr"], at=now)
                seen_kinds.add(classify(a))
                if (classify(a), len(a)) != (classify(b), len(b)):
                    problems.append(f"{fixture} {name}: full {classify(a)} x{len(a)}, kept {classify(b)} x{len(b)}")
    # The trouble fixtures make alerts fire, so the comparison is not only of empty results.
    assert {"value", "none"} <= seen_kinds
    assert not problems, "\n".join(problems)


def scraped_count(exposition: Exposition, keep: tuple[str, ...] | None) -> int:
    """Distinct series of an exposition (a repeated sample line is one series), or of the kept names."""
    return len({(s.name, s.labels) for s in exposition.samples if keep is None or s.name in keep})


def expected_counts(fixture: str) -> tuple[int, int]:
    """(series per target by default, with only the used metrics kept), Prometheus' own included."""
    exposition = EXPOSITIONS[fixture]
    keep = shipped_used_names(exposition.component)
    return (
        scraped_count(exposition, None) + len(PER_TARGET_SERIES),
        scraped_count(exposition, keep) + len(PER_TARGET_SERIES),
    )


def test_series_per_target_with_and_without_the_keep_list(prometheus):
    now = settled_time(prometheus)
    generated = prometheus.query('count by (__name__) ({job=~"full/.+|kept/.+", __name__=~"up|scrape_.+"})', at=now)
    assert {r["metric"]["__name__"] for r in generated} == set(PER_TARGET_SERIES)
    assert set(PER_TARGET_SERIES) <= GENERATED_SERIES
    for fixture in sorted(EXPOSITIONS):
        exposition = EXPOSITIONS[fixture]
        keep = shipped_used_names(exposition.component)
        counts = {}
        for variant in VARIANTS:
            selector = f'job="{job(variant, fixture)}"'
            result = prometheus.query(f"count by (pod) ({{{selector}, {NOT_SCRAPED}}})", at=now)
            per_pod = {float(r["value"][1]) for r in result}
            assert len(per_pod) == 1, (fixture, variant, result)
            counts[variant] = int(per_pod.pop())
            # Prometheus' own figures: sample lines read, and those left after metric relabeling.
            scraped = prometheus.query(f"scrape_samples_scraped{{{selector}}}", at=now)
            kept = prometheus.query(f"scrape_samples_post_metric_relabeling{{{selector}}}", at=now)
            lines = [s for s in exposition.samples if variant == "full" or s.name in keep]
            assert {float(r["value"][1]) for r in scraped} == {len(exposition.samples)}, (fixture, variant)
            assert {float(r["value"][1]) for r in kept} == {len(lines)}, (fixture, variant)
        assert (counts["full"], counts["kept"]) == expected_counts(fixture), fixture
        assert counts["kept"] < counts["full"], fixture


def cost_rows() -> dict[str, tuple[int, int]]:
    return {name: expected_counts(name) for name in sorted(EXPOSITIONS) if name.endswith("-quiet")}


def test_the_cost_table_states_the_series_counts_of_the_quiet_fixtures():
    text = COST_TABLE_PAGE.read_text(encoding="utf-8")
    for fixture, (full, kept) in cost_rows().items():
        row = f"| `{fixture}` | {full} | {kept} | {full / kept:.1f} |"
        assert row in text, f"docs/configuration.md 'Prometheus cost' lacks the row {row}"
