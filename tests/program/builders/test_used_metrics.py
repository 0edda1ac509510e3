"""The metric-name reader behind ``podMonitor.keepOnlyUsedMetrics``, the keep list it
generates, and the monitors that carry it.

What the list does to a real Prometheus is in tests/integration/dashboards/test_keep_only_used_metrics.py.
"""

from __future__ import annotations

import copy
import re

import pytest

from alerts import COMPONENTS, RECORDING_RULES, build_rule_groups
from builders.used_metrics import (
    GENERATED_SERIES,
    PromQLNameError,
    Selector,
    dashboard_queries,
    keep_relabeling,
    metric_names,
    rule_queries,
    scraped_names,
    selectors,
    shipped_used_names,
    used_names,
    variable_query_expr,
)
from configuration import ConfigError, parse_settings
from dashboards.loading import SHIPPED_DASHBOARDS, shipped_dashboards
from tests.support import grafana, promql
from tests.support.crd_schema import validate_monitoring_object
from tests.support.expositions import load_expositions, load_registry
from tools.evaluator.mock_engine import evaluate

KDD = {"kubernetes:context": "c", "calico-monitoring:datastore": {"type": "kubernetes"}}


# --------------------------------------------------------------------------- the reader


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('felix_resync_state{job="monitoring/felix"} != 3', {"felix_resync_state"}),
        # functions and aggregations are not metrics; label names in by (...) and {...} neither
        ('sum by (job, node) (rate(felix_ipset_errors{job=~"$job", node=~"$node"}[$__rate_interval]))',
         {"felix_ipset_errors"}),
        ("sum(rate(a_total[5m])) without (instance, pod)", {"a_total"}),
        ("max without (quantile) (felix_int_dataplane_apply_time_seconds{quantile=\"0.99\"})",
         {"felix_int_dataplane_apply_time_seconds"}),
        # binary-operator modifiers and their label lists
        ("a / on (node) group_left (pod) b", {"a", "b"}),
        ("a * ignoring (syncer) group_right b", {"a", "b"}),
        ("a > bool 0 and b unless c or d", {"a", "b", "c", "d"}),
        ("rate(a[5m] offset 1h) - rate(a[5m] offset -30m)", {"a"}),
        ("a @ start() + b @ 1700000000", {"a", "b"}),
        # recorded series are found (and left out of the keep list later, not here)
        ("calico:felix_int_dataplane_failures:rate5m > 0", {"calico:felix_int_dataplane_failures:rate5m"}),
        # histograms and summaries through their series
        ("histogram_quantile(0.99, sum by (le) (rate(x_seconds_bucket[5m])))", {"x_seconds_bucket"}),
        ("rate(s_sum[5m]) / rate(s_count[5m])", {"s_sum", "s_count"}),
        # strings, numbers, durations, variables and subqueries hide nothing
        ('label_replace(a, "dst", "$1", "src", "(x|y_total)")', {"a"}),
        ("topk($top_n, a) * 1e3 + 0x1F - .5 + Inf + NaN", {"a"}),
        ("max_over_time(rate(a[1m])[1h:5m]) * ${factor} + [[legacy]]", {"a"}),
        ('count_values("version", b)', {"b"}),
        ('{__name__="felix_host", job="j"}', {"felix_host"}),
        ("absent(up{job=\"j\"}) # a comment naming not_a_metric", {"up"}),
        ("sum by (job) (a)\n  /\ncount by (job) (b)", {"a", "b"}),
        ("SUM BY (job) (a) / COUNT(b)", {"a", "b"}),
    ],
)  # fmt: skip
def test_metric_names(expr, names):
    assert metric_names(expr) == names


def test_selectors_report_the_labels_they_match():
    assert selectors('rate(a{job="j", node=~"$node"}[5m]) / b') == [Selector("a", ("job", "node")), Selector("b", ())]
    assert selectors('{__name__="x", job="j"}') == [Selector("x", ("job",))]
    assert selectors('{job="j"}') == [Selector(None, ("job",))]


@pytest.mark.parametrize(
    "expr", ["rate(a[5m]", "a)", 'a{job="j"', 'a{job="j}', "a{job=j}", 'a{__name__="b"}', '{__name__=~"a|b"}']
)
def test_what_the_reader_cannot_take_apart_is_an_error(expr):
    with pytest.raises(PromQLNameError):
        selectors(expr)


@pytest.mark.parametrize(
    ("query", "expr"),
    [
        ('label_values(up{job="$job"}, node)', 'up{job="$job"}'),
        ({"qryType": 1, "query": 'label_values(ipam_ippool_size{job="$job"}, ippool)'}, 'ipam_ippool_size{job="$job"}'),
        ('label_values(a{job="$job", x=~"p,q"}, node)', 'a{job="$job", x=~"p,q"}'),
        ("label_values(up, node)", "up"),
        ("label_values(node)", None),
        ("label_names()", None),
        ('query_result(topk(5, b{job="$job"}))', 'topk(5, b{job="$job"})'),
        ('max(c{job="$job"})', 'max(c{job="$job"})'),
        ("", None),
        (None, None),
    ],
)  # fmt: skip
def test_grafana_variable_queries(query, expr):
    assert variable_query_expr(query) == expr


def test_a_variable_listing_metrics_by_pattern_is_refused():
    with pytest.raises(PromQLNameError, match="metric names by a pattern"):
        variable_query_expr("metrics(felix_.*)")


def test_scraped_names_leave_out_recorded_generated_and_foreign_series():
    queries = [
        'calico:x:rate5m{job="j"} > 0 and on (node) felix_a{job="j"}',
        'count(up{job="j"}) - count(scrape_samples_scraped{job="j"})',
        'felix_b{job="j"} unless on (node) kube_node_status_condition{condition="Ready"} == 0',
    ]
    assert scraped_names(queries, foreign={"kube_node_status_condition"}) == {"felix_a", "felix_b"}


def test_a_metric_not_scoped_to_a_job_is_an_error_not_a_silent_drop():
    with pytest.raises(PromQLNameError, match="felix_c is not scoped to a job"):
        scraped_names(['felix_a{job="j"} + felix_c'])
    with pytest.raises(PromQLNameError, match="without a metric name"):
        scraped_names(['{job="j"}'])


# --------------------------------------------------------------------------- the generated list


# The scraped names each component's shipped dashboard and rules read, written out from
# dashboards/<component>.json and the rules of alerts (recorded series, up and scrape_* left out).
USED_NAMES = {
    "felix": (
        "felix_active_local_endpoints",
        "felix_active_local_policies",
        "felix_active_local_selectors",
        "felix_bpf_conntrack_used",
        "felix_bpf_dataplane_endpoints",
        "felix_bpf_dirty_dataplane_endpoints",
        "felix_bpf_num_ip_sets",
        "felix_calc_graph_update_time_seconds",
        "felix_calc_graph_update_time_seconds_sum",
        "felix_cluster_num_host_endpoints",
        "felix_cluster_num_hosts",
        "felix_cluster_num_policies",
        "felix_cluster_num_profiles",
        "felix_cluster_num_tiers",
        "felix_cluster_num_workload_endpoints",
        "felix_int_dataplane_apply_time_seconds",
        "felix_int_dataplane_apply_time_seconds_count",
        "felix_int_dataplane_apply_time_seconds_sum",
        "felix_int_dataplane_failures",
        "felix_ipset_calls",
        "felix_ipset_errors",
        "felix_ipsets_calico",
        "felix_iptables_restore_calls",
        "felix_iptables_restore_errors",
        "felix_iptables_rules",
        "felix_iptables_save_errors",
        "felix_nft_calls",
        "felix_nft_errors",
        "felix_nft_list_errors",
        "felix_nft_rules",
        "felix_nft_set_calls",
        "felix_nft_set_errors",
        "felix_nft_sets",
        "felix_resync_state",
        "felix_resyncs_started",
        "go_gc_duration_seconds_sum",
        "go_memstats_heap_alloc_bytes",
        "go_memstats_next_gc_bytes",
        "process_cpu_seconds_total",
        "process_max_fds",
        "process_open_fds",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
    ),
    "typha": (
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
        "typha_breadcrumb_block",
        "typha_breadcrumb_non_block",
        "typha_breadcrumb_size",
        "typha_cache_size",
        "typha_client_latency_secs",
        "typha_client_snapshot_send_secs",
        "typha_client_write_latency_secs",
        "typha_connections_accepted",
        "typha_connections_active",
        "typha_connections_dropped",
        "typha_connections_grace_used",
        "typha_connections_streaming",
        "typha_ping_latency",
        "typha_ping_latency_count",
        "typha_ping_latency_sum",
        "typha_snapshot_compressed_bytes",
        "typha_snapshot_raw_bytes",
        "typha_snapshots_generated",
        "typha_snapshots_reused",
        "typha_updates_skipped",
        "typha_updates_total",
    ),
    "kube-controllers": (
        "ipam_allocations_borrowed",
        "ipam_allocations_gc_candidates",
        "ipam_allocations_gc_reclamations",
        "ipam_allocations_in_use",
        "ipam_blocks",
        "ipam_ippool_reserved",
        "ipam_ippool_size",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
    ),
}


def test_each_component_is_read_from_its_shipped_dashboard():
    assert {component: f"{component}.json" for component in COMPONENTS} == SHIPPED_DASHBOARDS


def test_the_lists_hold_what_the_shipped_queries_read():
    felix, typha, kube_controllers = (set(shipped_used_names(c)) for c in COMPONENTS)
    # dashboards: panel queries and the node variable; rules: recording inputs and alerts
    assert {"felix_int_dataplane_apply_time_seconds", "felix_int_dataplane_failures", "process_start_time_seconds",
            "felix_resync_state", "felix_bpf_dirty_dataplane_endpoints"} <= felix  # fmt: skip
    assert {"typha_connections_dropped", "typha_client_latency_secs", "typha_ping_latency"} <= typha
    assert {"ipam_ippool_size", "ipam_allocations_in_use", "ipam_blocks", "ipam_ippool_reserved"} <= kube_controllers
    for names in (felix, typha, kube_controllers):
        assert not names & GENERATED_SERIES
        assert not any(":" in name for name in names)
        assert "kube_node_status_condition" not in names
    assert not felix & {n for n in typha | kube_controllers if not n.startswith(("process_", "go_"))}


@pytest.mark.parametrize("component", COMPONENTS)
def test_each_list_is_exactly_the_names_written_out(component):
    assert shipped_used_names(component) == USED_NAMES[component]


def independent_names(component: str) -> set[str]:
    """Job-scoped names of the component's queries, found by the dashboard tests' own selector scanner."""
    name = SHIPPED_DASHBOARDS[component]
    dashboard = shipped_dashboards()[name]
    exprs = [query.expr for query in grafana.panel_queries(name, dashboard)]
    for variable in grafana.variables(dashboard).values():
        if variable["type"] == "query":
            exprs.append(grafana.label_values_query(variable["definition"])[0])
    exprs += [rule["expr"] for group in build_rule_groups({}, components=[component]) for rule in group["rules"]]
    recorded = {rule.record for rule in RECORDING_RULES}
    return {
        s.metric
        for expr in exprs
        for s in promql.selectors(expr)
        if s.metric and s.metric not in recorded and s.metric not in GENERATED_SERIES and s.matcher("job")
    }


@pytest.mark.parametrize("component", COMPONENTS)
def test_the_list_is_what_a_second_reader_finds(component):
    assert set(shipped_used_names(component)) == independent_names(component)


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_kept_name_is_a_series_calico_exports(component):
    """Each name is a family of the registry read from Calico's source, or one of a summary's series."""
    registry = load_registry()
    families = {name for name, entry in registry.items() if entry.exported_by(component)}
    summaries = {name for name in families if registry[name].type in ("summary", "histogram")}
    # Read by the IP pool rule where a newer kube-controllers exports it; not in v3.31.
    newer = {"ipam_ippool_reserved"} if component == "kube-controllers" else set()
    for name in shipped_used_names(component):
        base = re.sub(r"_(sum|count|bucket)$", "", name)
        assert name in families or base in summaries or name in newer, name


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_kept_name_is_in_some_fixture_of_its_component(component):
    exported = {s.name for e in load_expositions().values() if e.component == component for s in e.samples}
    missing = set(shipped_used_names(component)) - exported
    assert missing <= {"ipam_ippool_reserved"}, missing


def test_a_new_dashboard_query_brings_its_metric_into_the_list():
    dashboards = shipped_dashboards()
    groups = build_rule_groups({}, components=["felix"])
    before = used_names("felix", dashboards, groups)
    changed = copy.deepcopy(dashboards)
    panel = {"type": "timeseries", "title": "new", "targets": [{"refId": "A", "expr": ""}]}
    panel["targets"][0]["expr"] = 'sum by (node) (rate(felix_route_table_resync_seconds_count{job="$job"}[5m]))'
    changed["felix.json"]["panels"].append(panel)
    after = used_names("felix", changed, groups)
    assert "felix_route_table_resync_seconds_count" not in before
    assert set(after) - set(before) == {"felix_route_table_resync_seconds_count"}
    assert keep_relabeling(after) != keep_relabeling(before)


def test_a_new_variable_and_a_new_rule_bring_theirs_too():
    dashboards = copy.deepcopy(shipped_dashboards())
    dashboards["typha.json"]["templating"]["list"].append(
        {"name": "syncer", "type": "query", "query": {"query": 'label_values(typha_kvs_per_msg{job="$job"}, syncer)'}}
    )
    groups = copy.deepcopy(build_rule_groups({}, components=["typha"]))
    groups[0]["rules"].append({"alert": "X", "expr": 'typha_breadcrumb_seq_number{job="monitoring/calico-typha"} > 0'})
    names = set(used_names("typha", dashboards, groups))
    assert {"typha_kvs_per_msg", "typha_breadcrumb_seq_number"} <= names
    assert not {"typha_kvs_per_msg", "typha_breadcrumb_seq_number"} & set(shipped_used_names("typha"))


def test_the_keep_relabeling():
    assert keep_relabeling(["b", "a", "a"]) == {"action": "keep", "sourceLabels": ["__name__"], "regex": "a|b"}
    for bad in ([], ["calico:x:y"], ["a|b"], ["a.*"]):
        with pytest.raises(ValueError):
            keep_relabeling(bad)
    entry = keep_relabeling(shipped_used_names("felix"))
    assert entry == {"action": "keep", "sourceLabels": ["__name__"], "regex": "|".join(USED_NAMES["felix"])}
    names = entry["regex"].split("|")
    assert names == sorted(names) and all(re.fullmatch(r"[a-z_][a-z0-9_]*", n) for n in names)
    assert re.fullmatch(entry["regex"], "felix_resync_state")
    assert not re.fullmatch(entry["regex"], "felix_resync_state_extra")


# --------------------------------------------------------------------------- the setting and the monitors


def test_the_setting_is_off_by_default_and_must_be_a_boolean():
    assert parse_settings(KDD).pod_monitor.keep_only_used_metrics is False
    on = {**KDD, "calico-monitoring:podMonitor": {"keepOnlyUsedMetrics": True}}
    assert parse_settings(on).pod_monitor.keep_only_used_metrics is True
    bad = {**KDD, "calico-monitoring:podMonitor": {"keepOnlyUsedMetrics": "yes", "interval": "0s"}}
    with pytest.raises(ConfigError) as err:
        parse_settings(bad)
    message = str(err.value)
    assert 'calico-monitoring:podMonitor.keepOnlyUsedMetrics: got "yes"; expected true or false' in message
    assert "calico-monitoring:podMonitor.interval" in message  # every problem at once


def monitors(config):
    evaluation = evaluate({**KDD, **{f"calico-monitoring:{k}": v for k, v in config.items()}})
    found = {}
    for r in evaluation.registrations:
        kind = r.type.split(":")[-1]
        if r.type.startswith("kubernetes:") and kind in ("PodMonitor", "ServiceMonitor"):
            found[r.plain_inputs["metadata"]["name"]] = r.plain_inputs
    return found


def endpoints(monitor):
    return monitor["spec"].get("podMetricsEndpoints") or monitor["spec"]["endpoints"]


MODES = {
    "manifest-pod": {"typha": {"enabled": True}},
    "manifest-service": {"typha": {"enabled": True}, "felix": {"scrape": "service"}},
    "operator": {"install": "operator"},
}
COMPONENT_OF = {"felix": "felix", "calico-typha": "typha", "calico-kube-controllers": "kube-controllers"}


@pytest.mark.parametrize("mode", MODES)
def test_every_monitor_keeps_its_components_metrics_when_asked(mode):
    config = {**MODES[mode], "podMonitor": {"keepOnlyUsedMetrics": True}}
    found = monitors(config)
    assert set(found) == set(COMPONENT_OF)
    for name, monitor in found.items():
        validate_monitoring_object(monitor)
        for endpoint in endpoints(monitor):
            assert endpoint["metricRelabelings"] == [
                {"action": "keep", "sourceLabels": ["__name__"], "regex": "|".join(USED_NAMES[COMPONENT_OF[name]])}
            ]
            # target relabelings (job, node) are untouched
            assert endpoint.get("relabelings") == endpoints(monitors(MODES[mode])[name])[0].get("relabelings")


@pytest.mark.parametrize("mode", MODES)
def test_no_monitor_has_metric_relabelings_by_default(mode):
    for monitor in monitors(MODES[mode]).values():
        assert all("metricRelabelings" not in endpoint for endpoint in endpoints(monitor))


def test_dashboard_and_rule_queries_are_all_read():
    dashboard = {
        "panels": [
            {"type": "row", "panels": [{"targets": [{"expr": "a"}, {"expr": ""}, {"datasource": "x"}]}]},
            {"targets": [{"expr": "b"}]},
        ],
        "rows": [{"panels": [{"targets": [{"expr": "c"}]}]}],
        "templating": {
            "list": [
                {"type": "query", "query": {"query": "label_values(d, node)"}},
                {"type": "query", "query": "", "definition": "label_values(e, node)"},
                {"type": "custom", "query": "5,10"},
                {"type": "constant", "query": "monitoring/felix"},
            ]
        },
    }
    assert dashboard_queries(dashboard) == ["a", "b", "c", "d", "e"]
    assert rule_queries([{"rules": [{"record": "r", "expr": "x"}, {"alert": "A", "expr": "y"}]}]) == ["x", "y"]
