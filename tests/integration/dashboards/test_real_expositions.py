"""What the shipped dashboards, recording rules and alerts read is what the real Calico processes export.

The quiet fixtures of Felix (iptables and nftables mode), Typha and calico-kube-controllers are captured
from the real processes by ``make fixtures`` (tests/e2e/capture_expositions.py). Here:

* every metric a shipped panel, recording rule or alert reads is in the captured exposition of the
  dataplane it is meant for (a Felix family in every captured mode the registry says it is active in),
  but for the families of later releases a query reads beside v3.31's (``NEWER_RELEASES``).
  A family whose registry presence is ``event`` may be absent from a quiet process; a query that reads
  nothing but such absent families must be listed in ``EVENT_ONLY`` with the reason;
* the hand-made fixtures (felix-bpf-quiet: eBPF mode is not exercised; the ``*-trouble`` fault models)
  have the captured families, with the same types and label names, and no other family but ``event`` ones;
* every fixture's HELP lines are tests/fixtures/metrics/help.yaml's.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
import yaml

from alerts import COMPONENTS, NODE_NOT_READY, build_rule_groups
from builders.promql import metric_names
from builders.used_metrics import scraped_names
from dashboards.loading import SHIPPED_DASHBOARDS, shipped_dashboards
from tests.support.expositions import METRICS_DIR, Exposition, load_expositions, load_registry
from tests.support.grafana import panel_queries

REGISTRY = load_registry()
EXPOSITIONS = load_expositions()
CAPTURED_MARK = "# Captured by `make fixtures`"
FOREIGN = metric_names(NODE_NOT_READY)
# Families of later Calico releases a query reads beside v3.31's (so it works on both): absent here, rightly.
NEWER_RELEASES = {
    "ipam_ippool_reserved": "added to kube-controllers after v3.31; calico:ipam_ippool_utilisation:ratio reads it"
    " with an `or` fallback, so on v3.31 nothing counts as reserved",
}
# Queries that read only families absent from a quiet process (registry presence ``event``): the reason
# each is right to show nothing on the captured expositions.
EVENT_ONLY = {
    "kube-controllers.json / 'Leak garbage collection' / B": "ipam_allocations_gc_reclamations exists only once"
    " kube-controllers has reclaimed a leaked address; a quiet cluster never did (panel_expectations: none)",
}


def captured() -> dict[str, Exposition]:
    """The fixtures ``make fixtures`` wrote (their header says so)."""
    return {n: e for n, e in EXPOSITIONS.items() if CAPTURED_MARK in e.path.read_text(encoding="utf-8")}


def captured_for(component: str) -> dict[str, Exposition]:
    return {n: e for n, e in captured().items() if e.component == component}


def family_of(name: str) -> str | None:
    """The registry family a selected name belongs to (``_sum``, ``_count``, ``_bucket`` of their family)."""
    if name in REGISTRY:
        return name
    base = re.sub(r"_(sum|count|bucket)$", "", name)
    return base if base != name and REGISTRY.get(base) and REGISTRY[base].type in ("summary", "histogram") else None


def shipped_queries() -> list[tuple[str, str, str]]:
    """(component, where, expr) of every panel query, dashboard variable query, recording rule and alert."""
    out = []
    dashboards = shipped_dashboards()
    for component, file in SHIPPED_DASHBOARDS.items():
        out += [(component, str(q), q.expr) for q in panel_queries(file, dashboards[file])]
        for variable in (dashboards[file].get("templating") or {}).get("list") or []:
            if variable.get("type") == "query":
                query = variable.get("query")
                expr = query.get("query") if isinstance(query, dict) else query
                match = re.match(r"^\s*label_values\((.*),\s*\w+\s*\)\s*$", expr or "", re.DOTALL)
                if match:
                    out.append((component, f"{file} / variable {variable['name']}", match[1]))
    for component in COMPONENTS:
        for group in build_rule_groups({}, components=[component], include_alerts=True):
            for rule in group["rules"]:
                out.append((component, f"rule {rule.get('record') or rule['alert']}", rule["expr"]))
    return out


def missing_reads(
    queries: list[tuple[str, str, str]], expositions: dict[str, Exposition], event_only: dict[str, str]
) -> list[str]:
    """Each query's metric missing from the captured exposition of its dataplane, and stale EVENT_ONLY rows."""
    problems, absent_event_only = [], set()
    for component, where, expr in queries:
        names = scraped_names([expr], foreign=FOREIGN)
        absent: dict[str, tuple[str, list[str]] | None] = {}
        for name in sorted(names):
            if name in NEWER_RELEASES:
                absent[name] = None
                continue
            family = family_of(name)
            if family is None:
                problems.append(f"{where}: {name} is not a family Calico exports (registry.yaml)")
                continue
            targets = {n: e for n, e in expositions.items() if e.component == component}
            meant = {n: e for n, e in targets.items() if e.mode in REGISTRY[family].active} or targets
            lacking = sorted(n for n, e in meant.items() if family not in e.families())
            if lacking:
                absent[name] = (family, lacking)
        for name, (family, lacking) in ((n, a) for n, a in absent.items() if a):
            if REGISTRY[family].presence != "event":
                problems.append(f"{where}: {name} is missing from the real {', '.join(lacking)}")
        if names and len(absent) == len(names):
            absent_event_only.add(where)
            if where not in event_only:
                problems.append(f"{where}: reads only families a quiet process lacks; list it in EVENT_ONLY")
    problems += [f"EVENT_ONLY lists {where}, which reads what the real processes export" for where in event_only
                 if where not in absent_event_only]  # fmt: skip
    return problems


def structure(exposition: Exposition) -> dict[str, tuple[str, frozenset[str]]]:
    """Family -> (type, label names without quantile and le)."""
    out = {}
    for family, kind in exposition.types.items():
        labels = {label for s in exposition.samples_of(family) for label, _ in s.labels} - {"quantile", "le"}
        out[family] = (kind, frozenset(labels))
    return out


def agreement_problems(hand: Exposition, real: dict[str, Exposition]) -> list[str]:
    """Where a hand-made fixture's families, types or label names differ from the captured ones."""
    reference: dict[str, tuple[str, frozenset[str]]] = {}
    for exposition in real.values():
        reference.update(structure(exposition))
    mine = structure(hand)
    problems = [f"{hand.name}: lacks {f}, which the real {hand.component} exports" for f in sorted(reference)
                if f not in mine]  # fmt: skip
    for family, (kind, labels) in sorted(mine.items()):
        if family not in reference:
            if REGISTRY.get(family) is None or REGISTRY[family].presence != "event":
                problems.append(f"{hand.name}: {family} is not exported by the real {hand.component}")
            continue
        if kind != reference[family][0]:
            problems.append(f"{hand.name}: {family} is a {kind}, the real one a {reference[family][0]}")
        if labels and reference[family][1] and labels != reference[family][1]:
            problems.append(
                f"{hand.name}: {family} has labels {sorted(labels)}, the real {sorted(reference[family][1])}"
            )
    return problems


# --------------------------------------------------------------------------- the captures


def test_the_quiet_fixtures_of_every_component_and_captured_dataplane_are_captures():
    assert {(e.component, e.mode) for e in captured().values()} == {
        ("felix", "iptables"), ("felix", "nftables"), ("typha", None), ("kube-controllers", None)
    }  # fmt: skip
    assert all(e.state == "quiet" for e in captured().values())
    bpf = EXPOSITIONS["felix-bpf-quiet"].path.read_text(encoding="utf-8")
    assert "felix-bpf-quiet" not in captured() and "eBPF mode is\n# not exercised" in bpf


def test_the_captured_felix_dataplanes_export_the_same_families():
    iptables, nftables = (structure(EXPOSITIONS[f"felix-{mode}-quiet"]) for mode in ("iptables", "nftables"))
    assert iptables == nftables


def test_every_metric_a_panel_rule_or_alert_reads_is_in_the_real_exposition_of_its_dataplane():
    queries = shipped_queries()
    assert len(queries) > 100
    assert missing_reads(queries, captured(), EVENT_ONLY) == []


@pytest.mark.parametrize("name", sorted(n for n in EXPOSITIONS if n not in captured()))
def test_hand_made_fixture_has_the_real_families_types_and_labels(name):
    hand = EXPOSITIONS[name]
    assert agreement_problems(hand, captured_for(hand.component)) == []


@pytest.mark.parametrize("name", sorted(EXPOSITIONS))
def test_help_lines_are_this_projects_wording(name):
    texts = yaml.safe_load((METRICS_DIR / "help.yaml").read_text(encoding="utf-8"))
    lines = EXPOSITIONS[name].path.read_text(encoding="utf-8").splitlines()
    helps = dict(line.split(" ", 3)[2:] for line in lines if line.startswith("# HELP "))
    assert set(helps) == EXPOSITIONS[name].families()
    assert {f: t for f, t in helps.items() if texts.get(f) != t} == {}


# --------------------------------------------------------------------------- the checks can fail


def test_a_read_of_something_the_real_process_lacks_is_caught():
    real = captured()
    queries = [
        ("felix", "made-up panel", 'rate(felix_nft_maps{job="$job"}[5m])'),
        ("felix", "drifted panel", 'sum(felix_active_local_endpoints{job="$job"})'),
        ("kube-controllers", "event panel", 'sum(ipam_allocations_gc_reclamations{job="$job"})'),
    ]
    without = {n: replace(e, types={f: t for f, t in e.types.items() if f != "felix_active_local_endpoints"})
               for n, e in real.items()}  # fmt: skip
    problems = "\n".join(missing_reads(queries, without, {"stale row": "no reason"}))
    assert "made-up panel: felix_nft_maps is not a family Calico exports" in problems
    assert "drifted panel: felix_active_local_endpoints is missing from the real felix-iptables-quiet" in problems
    assert "event panel: reads only families a quiet process lacks" in problems
    assert "EVENT_ONLY lists stale row" in problems


def test_a_hand_made_fixture_that_drifts_from_the_real_families_is_caught():
    real = captured_for("felix")
    hand = EXPOSITIONS["felix-iptables-trouble"]
    assert agreement_problems(hand, real) == []
    types = {**hand.types, "felix_resyncs_started": "gauge", "felix_made_up": "gauge"}
    del types["goldmane_num_streams"]
    samples = [
        replace(s, labels=(("family", "inet"),)) if s.name == "felix_ipsets_calico" else s
        for s in hand.samples
        if s.name != "goldmane_num_streams"
    ]
    drifted = replace(hand, types=types, samples=[*samples, replace(hand.samples[0], name="felix_made_up")])
    problems = "\n".join(agreement_problems(drifted, real))
    assert "lacks goldmane_num_streams" in problems
    assert "felix_resyncs_started is a gauge, the real one a counter" in problems
    assert "felix_ipsets_calico has labels ['family'], the real ['ip_version']" in problems
    assert "felix_made_up is not exported by the real felix" in problems
