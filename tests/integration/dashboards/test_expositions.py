"""The target expositions (captured and hand-written) agree with the metric registry read from Calico's source.

The registry (tests/fixtures/metrics/registry.yaml) says which families Calico v3.31.0
exports, with which type and label names, and when. Every fixture must match it: no
family the registry does not know, no wrong type or label, every always-present family
there, and a quiet fixture must look quiet (error counters 0 and still, no family that
only appears after a first event).
"""

from __future__ import annotations

import math
import subprocess
from collections import Counter
from dataclasses import replace

import pytest

from tests.support.expositions import (
    COMPONENTS,
    MODES,
    STATES,
    Exposition,
    RegistryEntry,
    Sample,
    is_zero,
    load_exposition,
    load_expositions,
    load_registry,
)

REGISTRY = load_registry()
EXPOSITIONS = load_expositions()

CALICO_QUANTILES = {"0.5", "0.9", "0.99"}
GO_GC_QUANTILES = {"0", "0.25", "0.5", "0.75", "1"}
TYPHA_SYNCERS = {"felix", "bgp", "tunnel-ip-allocation", "node-status"}
# Counters that only move when something is wrong.
ERROR_COUNTERS = {
    "felix_int_dataplane_failures",
    "felix_iptables_restore_errors",
    "felix_iptables_save_errors",
    "felix_ipset_errors",
    "felix_nft_errors",
    "felix_nft_set_errors",
    "felix_nft_list_errors",
    "felix_logs_dropped",
    "felix_log_errors",
    "typha_connections_dropped",
    "typha_log_errors",
    "typha_logs_dropped",
}
# What must be non-zero in a felix fixture of each mode: the mode is really in use.
MODE_EVIDENCE = {
    "iptables": ("felix_iptables_rules", "felix_ipsets_calico"),
    "nftables": ("felix_nft_rules", "felix_nft_sets"),
    "bpf": ("felix_bpf_dataplane_endpoints", "felix_bpf_num_ip_sets"),
}


def registry_problems(exposition: Exposition, registry: dict[str, RegistryEntry] = REGISTRY) -> list[str]:
    """Everything in ``exposition`` that disagrees with ``registry``."""
    name = exposition.name
    problems = []
    for family, kind in sorted(exposition.types.items()):
        entry = registry.get(family)
        if entry is None:
            problems.append(f"{name}: {family} is not in the registry")
            continue
        if not entry.exported_by(exposition.component):
            problems.append(f"{name}: {family} is a {'/'.join(entry.components)} family, not {exposition.component}")
        if entry.type != kind:
            problems.append(f"{name}: {family} is a {kind} here, {entry.type} in the registry")
        samples = exposition.samples_of(family)
        if not samples:
            problems.append(f"{name}: {family} has a TYPE line and no samples")
        for sample in samples:
            labels = {label for label, _ in sample.labels}
            if entry.type == "summary" and sample.name == family:
                quantile = sample.label("quantile")
                allowed = GO_GC_QUANTILES if family == "go_gc_duration_seconds" else CALICO_QUANTILES
                if quantile not in allowed:
                    problems.append(f"{name}: {family} has quantile {quantile}, expected one of {sorted(allowed)}")
                labels.discard("quantile")
            if entry.type == "histogram" and sample.name == f"{family}_bucket":
                labels.discard("le")
            if labels != set(entry.labels):
                problems.append(f"{name}: {sample.name} has labels {sorted(labels)}, registry {sorted(entry.labels)}")
        if entry.type == "summary":
            problems += summary_problems(exposition, family, samples)
    for family, entry in sorted(registry.items()):
        if not entry.exported_by(exposition.component):
            continue
        if entry.presence == "always" and family not in exposition.types:
            problems.append(f"{name}: {family} is always exported, missing here")
        if entry.presence == "event" and exposition.state == "quiet" and family in exposition.types:
            problems.append(f"{name}: {family} appears only after a first event; a quiet target has none")
        if exposition.mode and exposition.mode not in entry.active and family in exposition.types:
            moving = [s for s in exposition.samples_of(family) if not is_zero(s.value) or s.name in exposition.moves]
            if moving:
                problems.append(f"{name}: {family} is not used in {exposition.mode} mode but is {moving[0].value}")
    return problems


def summary_problems(exposition: Exposition, family: str, samples: list[Sample]) -> list[str]:
    """A summary's children each have their quantiles, _sum and _count; empty ones are NaN with 0/0."""
    children: dict[tuple, dict[str, float]] = {}
    for sample in samples:
        key = tuple(pair for pair in sample.labels if pair[0] != "quantile")
        part = sample.name.removeprefix(family) or "q" + str(sample.label("quantile"))
        children.setdefault(key, {})[part] = sample.value
    problems = []
    for key, parts in children.items():
        if "_sum" not in parts or "_count" not in parts:
            problems.append(f"{exposition.name}: {family}{dict(key)} lacks _sum or _count")
            continue
        quantiles = [v for p, v in parts.items() if p.startswith("q")]
        if parts["_count"] == 0 and not all(math.isnan(v) for v in quantiles):
            problems.append(f"{exposition.name}: {family}{dict(key)} has no observation but finite quantiles")
    return problems


# --------------------------------------------------------------------------- the fixture set


def test_the_fixture_set_covers_each_component_state_and_dataplane_mode():
    kinds = {(e.component, e.state, e.mode) for e in EXPOSITIONS.values()}
    for component in COMPONENTS:
        for state in STATES:
            assert any(c == component and s == state for c, s, _ in kinds), (component, state)
    # Every dataplane mode as its own quiet Felix target.
    assert {m for c, s, m in kinds if c == "felix" and s == "quiet"} == set(MODES)
    for exposition in EXPOSITIONS.values():
        assert exposition.component in COMPONENTS, exposition.name
        assert exposition.state in STATES, exposition.name
        assert (exposition.mode in MODES) == (exposition.component == "felix"), exposition.name


@pytest.mark.parametrize("name", sorted(EXPOSITIONS))
def test_fixture_matches_the_registry(name):
    assert registry_problems(EXPOSITIONS[name]) == []


@pytest.mark.parametrize("name", sorted(EXPOSITIONS))
def test_fixture_is_valid_exposition_format(promtool, name):
    """promtool parses it; its only complaints are Calico's names: counters without _total, one gauge with it,
    Goldmane's milliseconds."""
    exposition = EXPOSITIONS[name]
    for scrape in (1, 7):
        result = subprocess.run(
            [promtool, "check", "metrics"], input=exposition.render(scrape), capture_output=True, text=True, timeout=30
        )
        output = (result.stdout + result.stderr).strip()
        assert result.returncode in (0, 3), output
        for line in filter(None, output.splitlines()):
            family = line.split()[0]
            if line.endswith('non-counter metrics should not have "_total" suffix'):
                # felix_bpf_conntrack_cleaned_total really is a gauge (felix/bpf/conntrack/scanner.go).
                assert REGISTRY[family].type == "gauge", line
                continue
            if line.endswith("metric names should not contain abbreviated units"):
                assert family.startswith("goldmane_") and family.endswith("_ms"), line  # Felix's Goldmane summaries
                continue
            assert line.endswith('counter metrics should have "_total" suffix'), line
            assert REGISTRY[family].type == "counter", line


@pytest.mark.parametrize("name", sorted(EXPOSITIONS))
def test_no_series_appears_twice(name):
    """client_golang writes each series once; Prometheus would keep only the first of two."""
    seen = Counter((sample.name, sample.labels) for sample in EXPOSITIONS[name].samples)
    assert [series for series, count in seen.items() if count > 1] == []


@pytest.mark.parametrize("name", sorted(EXPOSITIONS))
def test_only_counters_move_and_only_upwards(name):
    exposition = EXPOSITIONS[name]
    names = {s.name for s in exposition.samples}
    for sample_name, step in exposition.moves.items():
        assert sample_name in names, f"{name}: moves {sample_name}, which it does not export"
        family = exposition.family_of(sample_name)
        is_counter = exposition.types[family] == "counter" or sample_name != family
        assert is_counter, f"{name}: {sample_name} is not a counter"
        assert step >= 0, f"{name}: {sample_name} would go down"


@pytest.mark.parametrize("name", sorted(n for n, e in EXPOSITIONS.items() if e.state == "quiet"))
def test_quiet_fixture_has_no_errors(name):
    exposition = EXPOSITIONS[name]
    for family in ERROR_COUNTERS & exposition.families():
        for sample in exposition.samples_of(family):
            assert is_zero(sample.value), f"{name}: {sample.name} is {sample.value}"
            assert sample.name not in exposition.moves, f"{name}: {sample.name} moves"


def test_quiet_fixtures_have_idle_summaries():
    """A quiet Felix or Typha has NaN quantiles: summaries with nothing observed in their window."""
    for exposition in EXPOSITIONS.values():
        if exposition.state != "quiet" or exposition.component == "kube-controllers":
            continue
        nan = [s for s in exposition.samples if s.label("quantile") is not None and math.isnan(s.value)]
        assert nan, f"{exposition.name}: no idle (NaN) summary"


@pytest.mark.parametrize("name", sorted(n for n, e in EXPOSITIONS.items() if e.component == "felix"))
def test_felix_fixture_is_in_one_dataplane_mode(name):
    exposition = EXPOSITIONS[name]
    for family in MODE_EVIDENCE[exposition.mode]:
        assert any(s.value > 0 for s in exposition.samples_of(family)), f"{name}: {family} shows no use"
    for mode, families in MODE_EVIDENCE.items():
        if mode == exposition.mode:
            continue
        for family in families:
            if exposition.mode == "bpf" and mode == "iptables":
                continue  # eBPF mode keeps a few host rules in iptables
            values = [s.value for s in exposition.samples_of(family)]
            assert all(v == 0 for v in values), f"{name}: {family} in use ({values}) outside {mode} mode"


@pytest.mark.parametrize("name", sorted(n for n, e in EXPOSITIONS.items() if e.component == "typha"))
def test_typha_per_syncer_families_have_all_four_syncers(name):
    exposition = EXPOSITIONS[name]
    for family in exposition.families():
        if "syncer" not in REGISTRY[family].labels:
            continue
        syncers = {s.label("syncer") for s in exposition.samples_of(family)}
        assert syncers == TYPHA_SYNCERS, f"{name}: {family} has syncers {sorted(syncers)}"


def test_rendering_moves_only_the_listed_samples():
    exposition = EXPOSITIONS["felix-iptables-trouble"]
    first = load_values(exposition.render(1))
    fourth = load_values(exposition.render(4))
    assert fourth["felix_int_dataplane_failures"] == pytest.approx(first["felix_int_dataplane_failures"] + 0.3)
    assert fourth["felix_resync_state"] == first["felix_resync_state"] == 2
    quiet = EXPOSITIONS["felix-iptables-quiet"]
    assert load_values(quiet.render(9))["felix_int_dataplane_failures"] == 0


def load_values(text: str) -> dict[str, float]:
    return {line.split()[0]: float(line.split()[1]) for line in text.splitlines() if line and line[0] != "#"}


# --------------------------------------------------------------------------- the checks can fail


def test_registry_check_catches_drift(tmp_path):
    good = EXPOSITIONS["felix-iptables-quiet"]
    assert registry_problems(good) == []
    text = good.path.read_text(encoding="utf-8")

    def problems_of(mutated: str) -> str:
        path = tmp_path / "mutated.prom"
        path.write_text(mutated, encoding="utf-8")
        return "\n".join(registry_problems(load_exposition(path)))

    wrong_type = text.replace("# TYPE felix_resyncs_started counter", "# TYPE felix_resyncs_started gauge")
    assert "felix_resyncs_started is a gauge here" in problems_of(wrong_type)
    wrong_label = text.replace('felix_ipsets_calico{ip_version="inet"}', 'felix_ipsets_calico{family="inet"}')
    assert "felix_ipsets_calico has labels ['family']" in problems_of(wrong_label)
    missing = text.replace("felix_int_dataplane_failures 0", "")
    assert "felix_int_dataplane_failures has a TYPE line and no samples" in problems_of(missing)
    renamed = text.replace("felix_int_dataplane_failures", "felix_int_dataplane_failures_total")
    assert "felix_int_dataplane_failures_total is not in the registry" in problems_of(renamed)
    assert "felix_int_dataplane_failures is always exported" in problems_of(renamed)
    nft_in_iptables_mode = text.replace('felix_nft_rules{ip_version="4"} 0', 'felix_nft_rules{ip_version="4"} 210')
    assert "felix_nft_rules is not used in iptables mode" in problems_of(nft_in_iptables_mode)
    bad_quantile = text.replace('felix_exec_time_micros{quantile="0.9"}', 'felix_exec_time_micros{quantile="0.95"}')
    assert "quantile 0.95" in problems_of(bad_quantile)
    kc = EXPOSITIONS["kube-controllers-trouble"]
    assert "only after a first event" in "\n".join(registry_problems(replace(kc, state="quiet")))
