"""A real scrape made into a fixture of tests/fixtures/metrics/targets/: the same bytes from every capture.

Kept as scraped: every family and its TYPE, every series with its labels, in the order the process
wrote them, and every value that describes the cluster (endpoints, policies, rules, IP sets, routes, pools,
blocks, connections, cache sizes, the counts of start-up work). Those came out identical in repeated
captures. Replaced, because they measure time or the machine rather than the cluster:

* Go runtime and process figures (``go_*``, ``process_*``): fixed values per component (``RUNTIME``), of the
  size the real processes showed; settings (``go_info``, GOGC, the memory limit) stay as scraped.
* summaries, shown as on a process that has been quiet for longer than their 10-minute window: NaN
  quantiles, unless the fixture's ``moves`` make the family's ``_count`` grow (it keeps observing), then
  ``TYPICAL`` times a fixed shape; every ``_sum`` is ``_count`` times ``TYPICAL``, and grows with it.
* values driven by timers or batching at start-up (``PINNED``): fixed values of the size captured.

HELP lines are this project's wording (tests/fixtures/metrics/help.yaml), not Calico's.

``MOVES`` is how much each counter that grows on a quiet process grows per scrape (the test Prometheus
scrapes every second): the per-second growth measured on the real processes over 400 s after they had
settled (``python -m tests.e2e.capture_expositions --observe 400``), rounded.
"""

from __future__ import annotations

import math
import re
from functools import cache

import yaml

from tests.support.expositions import METRICS_DIR

VERSION = "v3.31.0"
COMPONENTS = {"felix": "Felix", "typha": "Typha", "kube-controllers": "calico-kube-controllers"}
QUANTILE_SHAPE = {"0.5": 0.7, "0.9": 1.5, "0.99": 4.0}
GO_GC_SHAPE = {"0": 0.2, "0.25": 0.75, "0.5": 1.0, "0.75": 1.8, "1": 8.0}
# A typical single observation of each summary the quiet processes observe.
TYPICAL = {
    "felix_calc_graph_update_time_seconds": 5e-05,
    "felix_exec_time_micros": 1600.0,
    "felix_int_dataplane_addr_msg_batch_size": 1.7,
    "felix_int_dataplane_apply_time_seconds": 0.035,
    "felix_int_dataplane_iface_msg_batch_size": 3.0,
    "felix_int_dataplane_msg_batch_size": 7.5,
    "felix_route_table_resync_seconds": 0.0008,
    "go_gc_duration_seconds": 0.00013,
    "typha_breadcrumb_size": 0.0,
    "typha_client_latency_secs": 0.0,
    "typha_client_snapshot_send_secs": 0.006,
    "typha_client_write_latency_secs": 0.00023,
    "typha_kvs_per_msg": 1.0,
    "typha_ping_latency": 0.0009,
}
# name: (Felix, Typha, kube-controllers)
RUNTIME = {
    "go_gc_duration_seconds_count": (10, 5, 4),
    "go_goroutines": (43, 189, 83),
    "go_memstats_alloc_bytes": (8.8e6, 8.6e6, 5.2e6),
    "go_memstats_alloc_bytes_total": (2.5e7, 1.5e7, 9.9e6),
    "go_memstats_buck_hash_sys_bytes": (1.47e6, 1.46e6, 1.45e6),
    "go_memstats_frees_total": (117000, 76000, 45000),
    "go_memstats_gc_sys_bytes": (3.8e6, 3.6e6, 3.5e6),
    "go_memstats_heap_alloc_bytes": (8.8e6, 8.6e6, 5.2e6),
    "go_memstats_heap_idle_bytes": (3.8e6, 2.2e6, 4.0e6),
    "go_memstats_heap_inuse_bytes": (1.2e7, 1.2e7, 7.7e6),
    "go_memstats_heap_objects": (44000, 42000, 32000),
    "go_memstats_heap_released_bytes": (2.5e6, 1.9e6, 3.7e6),
    "go_memstats_heap_sys_bytes": (1.58e7, 1.44e7, 1.17e7),
    "go_memstats_last_gc_time_seconds": (1.7e9, 1.7e9, 1.7e9),
    "go_memstats_mallocs_total": (161000, 118000, 76000),
    "go_memstats_mcache_inuse_bytes": (2416, 2416, 2416),
    "go_memstats_mcache_sys_bytes": (15704, 15704, 15704),
    "go_memstats_mspan_inuse_bytes": (188000, 177000, 126000),
    "go_memstats_mspan_sys_bytes": (196000, 180000, 131000),
    "go_memstats_next_gc_bytes": (1.27e7, 1.44e7, 9.5e6),
    "go_memstats_other_sys_bytes": (595000, 600000, 497000),
    "go_memstats_stack_inuse_bytes": (983040, 2359296, 851968),
    "go_memstats_stack_sys_bytes": (983040, 2359296, 851968),
    "go_memstats_sys_bytes": (2.29e7, 2.26e7, 1.82e7),
    "go_sched_gomaxprocs_threads": (2, 2, 2),
    "go_threads": (9, 8, 5),
    "process_cpu_seconds_total": (0.5, 0.14, 0.1),
    "process_max_fds": (1048576, 1048576, 1048576),
    "process_network_receive_bytes_total": (128000, 169000, 128000),
    "process_network_transmit_bytes_total": (128000, 169000, 128000),
    "process_open_fds": (24, 12, 8),
    "process_resident_memory_bytes": (9.1e7, 5.7e7, 5.4e7),
    "process_start_time_seconds": (1.7e9, 1.7e9, 1.7e9),
    "process_virtual_memory_bytes": (1.37e9, 1.32e9, 1.32e9),
}
RUNTIME_SETTINGS = ("go_info", "go_gc_gogc_percent", "go_gc_gomemlimit_bytes", "process_virtual_memory_max_bytes")
SYNCERS = ("bgp", "felix", "node-status", "tunnel-ip-allocation")
_FELIX_PINNED = {
    "felix_int_dataplane_initial_resync_time_seconds": 0.05,
    "felix_int_dataplane_msg_batch_size_count": 4,
    "felix_int_dataplane_addr_msg_batch_size_count": 3,
    "felix_int_dataplane_iface_msg_batch_size_count": 1,
    "felix_route_table_resync_seconds_count": 2,
    'promhttp_metric_handler_requests_total{code="200"}': 3,
}
PINNED = {
    "felix-iptables-quiet": {
        **_FELIX_PINNED,
        "felix_iptables_save_calls": 12,
        "felix_nft_list_calls": 7,
        "felix_exec_time_micros_count": 2,
        "felix_int_dataplane_apply_time_seconds_count": 6,
    },
    "felix-nftables-quiet": {
        **_FELIX_PINNED,
        "felix_iptables_save_calls": 16,
        "felix_nft_list_calls": 6,
        "felix_exec_time_micros_count": 1,
        "felix_int_dataplane_apply_time_seconds_count": 5,
    },
    "typha-quiet": {
        **{
            f'typha_breadcrumb_seq_number{{syncer="{s}"}}': n
            for s, n in (("bgp", 3), ("felix", 4), ("node-status", 1), ("tunnel-ip-allocation", 1))
        },
        **{
            f'typha_breadcrumb_size_count{{syncer="{s}"}}': n
            for s, n in (("bgp", 51), ("felix", 52), ("node-status", 49), ("tunnel-ip-allocation", 50))
        },
        'typha_client_write_latency_secs_count{syncer="felix"}': 14,
        'typha_ping_latency_count{syncer="felix"}': 8,
        'typha_snapshot_raw_bytes{syncer="felix"}': 21800,
        'typha_snapshot_compressed_bytes{syncer="felix"}': 5400,
        'promhttp_metric_handler_requests_total{code="200"}': 3,
    },
    "kube-controllers-quiet": {'promhttp_metric_handler_requests_total{code="200"}': 3},
}
_RUNTIME_MOVES = {
    "felix": {"go_gc_duration_seconds_count": 0.013, "go_memstats_alloc_bytes_total": 35000,
              "go_memstats_mallocs_total": 82, "go_memstats_frees_total": 88, "process_cpu_seconds_total": 0.013,
              "process_network_receive_bytes_total": 110, "process_network_transmit_bytes_total": 110},
    "typha": {"go_gc_duration_seconds_count": 0.0072, "go_memstats_alloc_bytes_total": 3100,
              "go_memstats_mallocs_total": 30, "go_memstats_frees_total": 48, "process_cpu_seconds_total": 0.0014,
              "process_network_receive_bytes_total": 250, "process_network_transmit_bytes_total": 250},
    "kube-controllers": {"go_gc_duration_seconds_count": 0.0075, "go_memstats_alloc_bytes_total": 8900,
                         "go_memstats_mallocs_total": 100, "go_memstats_frees_total": 100,
                         "process_cpu_seconds_total": 0.0007, "process_network_receive_bytes_total": 490,
                         "process_network_transmit_bytes_total": 490},
}  # fmt: skip
MOVES = {
    "felix-iptables-quiet": {"felix_iptables_save_calls": 0.045, "felix_nft_list_calls": 0.036,
                             "felix_int_dataplane_apply_time_seconds_count": 0.036,
                             "felix_route_table_resync_seconds_count": 0.018, "felix_exec_time_micros_count": 0.054},
    "felix-nftables-quiet": {"felix_iptables_save_calls": 0.037, "felix_nft_list_calls": 0.03,
                             "felix_int_dataplane_apply_time_seconds_count": 0.03,
                             "felix_route_table_resync_seconds_count": 0.019, "felix_exec_time_micros_count": 0.012},
    "typha-quiet": {"typha_breadcrumb_size_count": 0.95, "typha_client_write_latency_secs_count": 0.19,
                    "typha_ping_latency_count": 0.19},
    "kube-controllers-quiet": {},
}  # fmt: skip
DESCRIPTIONS = {
    "felix-iptables-quiet": "on node-001 (iptables mode) of a quiet three-node cluster: five local workloads\n"
    "(fifteen in the cluster), two Kubernetes NetworkPolicies and one GlobalNetworkPolicy, in sync through Typha.",
    "felix-nftables-quiet": "on node-002 (nftables mode: FelixConfiguration node.node-002) of the same\n"
    "cluster: the iptables tables and the ipset manager exist as clean-up objects, exported with 0.",
    "typha-quiet": "serving the two Felix of the same cluster: all four syncers have their per-syncer\n"
    "metrics from start-up; only felix has clients, so the others' client summaries are NaN with 0/0.",
    "kube-controllers-quiet": "of the same cluster: one IPv4 pool (192.168.0.0/16, /26 blocks), one block\n"
    "per node holding its five pods' addresses, nothing borrowed, no leak candidate; so no\n"
    "ipam_allocations_borrowed_per_node series and no ipam_allocations_gc_reclamations family.",
}
_SAMPLE = re.compile(r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?P<labels>\{[^}]*\})?\s+(?P<value>\S+)$")
_QUANTILE = re.compile(r'quantile="([^"]+)"')


@cache
def help_texts() -> dict[str, str]:
    return yaml.safe_load((METRICS_DIR / "help.yaml").read_text(encoding="utf-8"))


def component_of(fixture: str) -> str:
    return next(c for c in COMPONENTS if fixture.startswith(c + "-"))


def number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(f"{value:.6g}"))


def moves_of(fixture: str) -> dict[str, float]:
    """Per-scrape steps: the measured ones, and each observing summary's ``_sum`` (``TYPICAL`` per observation)."""
    moves = {**MOVES[fixture], **_RUNTIME_MOVES[component_of(fixture)]}
    counts = {name[:-6]: step for name, step in moves.items() if name.endswith("_count") and name[:-6] in TYPICAL}
    sums = {f"{family}_sum": step * TYPICAL[family] for family, step in counts.items()}
    return {**moves, **{name: step for name, step in sums.items() if step}}


def header(fixture: str, mode: str | None) -> list[str]:
    component = component_of(fixture)
    target = f"component={component}" + (f" mode={mode}" if mode else "") + " state=quiet"
    lines = [
        *f"{COMPONENTS[component]} (Calico {VERSION}) {DESCRIPTIONS[fixture]}".splitlines(),
        "Captured by `make fixtures` (tests/e2e/capture_expositions.py) from the real process; normalised",
        "by tests/e2e/exposition_normalise.py: Go runtime and process figures fixed, summaries as long after",
        "start-up (NaN quantiles unless they keep observing, _sum from a typical observation), values set by",
        "timers at start-up pinned, `moves` measured on the real process, HELP from help.yaml. Everything",
        "else as scraped.",
        "",
        f"target: {target}",
        *(f"moves: {name} {number(step)}" for name, step in moves_of(fixture).items()),
    ]
    return [f"# {line}".rstrip() for line in lines]


def normalised_fixture(fixture: str, text: str, mode: str | None) -> str:
    """The fixture file for the raw scrape ``text`` of ``fixture`` (e.g. felix-iptables-quiet)."""
    component = component_of(fixture)
    moves = moves_of(fixture)
    types = {line.split()[2]: line.split()[3] for line in text.splitlines() if line.startswith("# TYPE ")}
    samples = [(line, _SAMPLE.match(line)) for line in text.splitlines()]

    def fixed(name: str, labels: str) -> float | None:
        pinned = PINNED[fixture]
        for key in (name + labels, name):
            if key in pinned:
                return pinned[key]
        return RUNTIME[name][list(COMPONENTS).index(component)] if name in RUNTIME else None

    counts = {}  # each summary child's _count as written: name and labels (no quantile) -> value
    for _, match in samples:
        if match and match["name"].endswith("_count") and types.get(match["name"][:-6]) == "summary":
            value = fixed(match["name"], match["labels"] or "")
            counts[match["name"] + (match["labels"] or "")] = float(match["value"]) if value is None else value
    out = header(fixture, mode)
    for line, match in samples:
        if match is None:
            if line.startswith("# TYPE "):
                family = line.split()[2]
                if family not in help_texts():
                    raise ValueError(f"{fixture}: {family} has no HELP text in tests/fixtures/metrics/help.yaml")
                out += [f"# HELP {family} {help_texts()[family]}", line]
            continue
        name, labels = match["name"], match["labels"] or ""
        family = re.sub(r"_(sum|count)$", "", name)
        if types.get(family) == "summary":
            value = summary_value(fixture, family, name, labels, counts, moves)
        elif (pinned := fixed(name, labels)) is not None:
            value = number(pinned)
        elif name.startswith(("go_", "process_")) and name not in RUNTIME_SETTINGS:
            raise ValueError(f"{fixture}: {name}{labels} measures the machine and has no fixed value in RUNTIME")
        else:
            value = match["value"]
        out.append(f"{name}{labels} {value}")
    return "\n".join(out) + "\n"


def summary_value(
    fixture: str, family: str, name: str, labels: str, counts: dict[str, float], moves: dict[str, float]
) -> str:
    child = re.sub(r',?quantile="[^"]*"', "", labels).replace("{,", "{").replace("{}", "")
    count = counts[f"{family}_count{child}"]
    if count and family not in TYPICAL:
        raise ValueError(f"{fixture}: {family}{child} observed {count:g} times and has no TYPICAL observation")
    typical = TYPICAL.get(family, 0.0)
    if name.endswith("_count"):
        return number(count)
    if name.endswith("_sum"):
        return number(count * typical)
    observing = count > 0 and f"{family}_count" in moves
    shape = GO_GC_SHAPE if family == "go_gc_duration_seconds" else QUANTILE_SHAPE
    return number(typical * shape[_QUANTILE.search(labels)[1]]) if observing else "NaN"
