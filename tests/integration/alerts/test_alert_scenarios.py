"""Every alert on a cluster built from the realistic fixtures, with promtool.

Silent: a quiet, healthy cluster in each dataplane mode, and the everyday events that
must not page anyone: start-up, a counter reset (Felix restarting in place), a scrape
gap, a pod restart, a node being drained and shut down. Firing: the same cluster with
one Felix, one Typha and the kube-controllers serving the "trouble" fixtures raises
exactly the alerts those fixtures describe.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from alerts import ALERT_NAMES, DEFAULT_JOBS, build_rule_groups
from tests.integration.alerts.scenarios import (
    MINUTES,
    Timeline,
    felix_target,
    input_series,
    kc_target,
    selected_families,
    typha_target,
)
from tests.support.expositions import load_registry
from tests.support.promtool import run_promtool, write_rule_file

RULES = build_rule_groups(DEFAULT_JOBS)
EXPRS = [rule["expr"] for group in RULES for rule in group["rules"]]
SELECTED = selected_families(EXPRS, load_registry())
NODES = range(1, 11)


def cluster(felix_fixture: str = "felix-iptables-quiet", **timeline) -> list[Timeline]:
    return [
        *(Timeline(felix_target(i, felix_fixture), **timeline) for i in NODES),
        *(Timeline(typha_target(i), **timeline) for i in (1, 2, 3)),
        Timeline(kc_target(), **timeline),
    ]


def replaced(timelines: list[Timeline], pod: str, at: int, new: Timeline) -> list[Timeline]:
    """The pod ``pod`` ends at minute ``at``; ``new`` (a fresh pod) takes over."""
    out = []
    for timeline in timelines:
        if timeline.target.pod == pod:
            timeline = replace(timeline, end=at)
        out.append(timeline)
    return [*out, new]


def pod_restart() -> list[Timeline]:
    timelines = cluster()
    timelines = replaced(timelines, "calico-node-n01", 60, Timeline(felix_target(1, pod_suffix="-b"), born=0, start=60))
    timelines = replaced(timelines, "calico-typha-1", 60, Timeline(typha_target(1, pod_suffix="-b"), born=0, start=60))
    return replaced(timelines, "calico-kube-controllers-1", 60, Timeline(kc_target(pod_suffix="-b"), born=0, start=61))


def node_drain() -> tuple[list[Timeline], dict[str, int]]:
    """node-03 is drained at 60m (Typha and kube-controllers move away), shut down at 70m."""
    timelines = cluster()
    timelines = replaced(
        timelines, "calico-typha-3", 60, Timeline(typha_target(3, pod_suffix="-b", node=4), born=0, start=61)
    )
    timelines = replaced(
        timelines, "calico-kube-controllers-1", 60, Timeline(kc_target(pod_suffix="-b"), born=0, start=61)
    )
    timelines = [
        replace(t, up=lambda minute: minute < 71) if t.target.pod == "calico-node-n03" else t for t in timelines
    ]
    return timelines, {"node-03": 70}


SILENT: dict[str, tuple[list[Timeline], dict[str, int], list[int]]] = {
    "quiet-iptables": (cluster("felix-iptables-quiet"), {}, [5, 30, 60, 120, 180]),
    "quiet-nftables": (cluster("felix-nftables-quiet"), {}, [5, 30, 60, 120, 180]),
    "quiet-bpf": (cluster("felix-bpf-quiet"), {}, [5, 30, 60, 120, 180]),
    "start-up": (cluster(born=0), {}, [0, 1, 3, 10, 16, 20, 40]),
    "counter-reset": (cluster(restarts=(60,)), {}, [61, 63, 66, 75, 90, 120]),
    "scrape-gap": (cluster(up=lambda minute: not 60 <= minute <= 62), {}, [61, 62, 64, 70, 80]),
    "pod-restart": (pod_restart(), {}, [61, 63, 66, 75, 90, 120]),
    "node-drain": (*node_drain(), [61, 72, 80, 90, 120, 180]),
}


def promtool_file(directory: Path, name: str, test: dict) -> Path:
    write_rule_file(directory / "rules.yaml", RULES)
    path = directory / f"{name}.yaml"
    doc = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [test]}
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=200), encoding="utf-8")
    return path


@pytest.mark.parametrize("scenario", sorted(SILENT))
def test_every_alert_is_silent(promtool, tmp_path, scenario):
    timelines, not_ready, minutes = SILENT[scenario]
    assert max(minutes) <= MINUTES
    test = {
        "interval": "1m",
        "input_series": input_series(timelines, SELECTED, not_ready),
        "alert_rule_test": [
            {"eval_time": f"{minute}m", "alertname": name, "exp_alerts": []}
            for minute in minutes
            for name in ALERT_NAMES
        ],
    }
    run_promtool(promtool, "test", "rules", str(promtool_file(tmp_path, scenario, test)))


# Exactly what the trouble fixtures must raise (node-01, typha-1 and the kube-controllers).
TROUBLE_ALERTS = {
    "CalicoFelixDataplaneFailures": "warning",
    "CalicoFelixIptablesErrors": "warning",
    "CalicoFelixIpsetErrors": "warning",
    "CalicoFelixDataplaneApplySlow": "warning",
    "CalicoFelixNotInSync": "warning",
    "CalicoTyphaConnectionsDropped": "warning",
    "CalicoTyphaClientsLagging": "warning",
    "CalicoTyphaPingSlow": "warning",
    "CalicoIPPoolNearlyExhausted": "warning",
    "CalicoIPPoolBlocksExhausted": "warning",
    "CalicoIPAMGarbageCollectionStuck": "warning",
}


def trouble_cluster() -> list[Timeline]:
    timelines = cluster()
    swap = {
        "calico-node-n01": felix_target(1, "felix-iptables-trouble"),
        "calico-typha-1": typha_target(1, "typha-trouble"),
        "calico-kube-controllers-1": kc_target("kube-controllers-trouble"),
    }
    return [replace(t, target=swap.get(t.target.pod, t.target)) for t in timelines]


def test_the_trouble_fixtures_raise_their_alerts(promtool, tmp_path):
    firing = 'count by (alertname, severity) (ALERTS{alertstate="firing"})'
    test = {
        "interval": "1m",
        "input_series": input_series(trouble_cluster(), SELECTED),
        "promql_expr_test": [
            {
                "expr": firing,
                "eval_time": "120m",
                "exp_samples": [
                    {"labels": f'{{alertname="{name}", severity="{severity}"}}', "value": 1}
                    for name, severity in sorted(TROUBLE_ALERTS.items())
                ],
            }
        ],
    }
    run_promtool(promtool, "test", "rules", str(promtool_file(tmp_path, "trouble", test)))


def test_a_silent_scenario_can_fail(promtool, tmp_path):
    """The silent check reports an alert that fires: node-01 serving the trouble fixture breaks quiet-iptables."""
    timelines = [
        replace(t, target=felix_target(1, "felix-iptables-trouble")) if t.target.pod == "calico-node-n01" else t
        for t in cluster()
    ]
    test = {
        "interval": "1m",
        "input_series": input_series(timelines, SELECTED),
        "alert_rule_test": [{"eval_time": "60m", "alertname": "CalicoFelixDataplaneFailures", "exp_alerts": []}],
    }
    with pytest.raises(AssertionError, match="CalicoFelixDataplaneFailures"):
        run_promtool(promtool, "test", "rules", str(promtool_file(tmp_path, "broken", test)))


def test_scenarios_select_the_families_the_rules_use():
    assert {"felix_int_dataplane_failures", "process_start_time_seconds", "typha_ping_latency"} <= SELECTED
    assert {"ipam_allocations_gc_candidates", "felix_bpf_dirty_dataplane_endpoints"} <= SELECTED
    assert "go_goroutines" not in SELECTED
