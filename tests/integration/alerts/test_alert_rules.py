"""Tests for the alerts package (alerts/).

The first half checks the builder as plain Python. The second half runs the
real promtool: ``promtool check rules`` on the generated rules, and
``promtool test rules`` with the unit-test files beside the rules in alerts/tests/.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from alerts import (
    ALERT_NAMES,
    ALERTS,
    DASHBOARD_UIDS,
    DEFAULT_JOBS,
    NODE_NOT_READY,
    RECORDING_RULES,
    RUNBOOKS_PATH,
    build_rule_groups,
    is_runbook_url_pattern,
    promql_string,
    validate_overrides,
)
from tests.paths import ROOT
from tests.support.promtool import run_promtool, write_rule_file

REPO = ROOT
FIXTURES = REPO / "alerts" / "tests"
RUNBOOKS = REPO / "docs" / "runbooks.md"

# The overrides alerts/tests/overrides.yaml is written against.
OVERRIDES = {
    "CalicoFelixDataplaneApplySlow": {"threshold": 3, "for": "5m"},
    "CalicoIPPoolNearlyExhausted": {"threshold": 0.95, "severity": "critical"},
    "CalicoFelixDown": {"enabled": False},
    "CalicoTyphaDown": {"for": "1h", "severity": "info"},
}

# The settings alerts/tests/links.yaml is written against.
LINKS = {
    "cluster_label": "cluster",
    "dashboard_cluster_label": "cluster",
    "runbook_url_pattern": "https://runbooks.example.com/calico/{alert}.html#{anchor}",
    "grafana_url": "https://grafana.example.com/",
}

# Every promtool unit-test file and the build_rule_groups options its rules are built with.
# Files built with the defaults are the ones the coverage test reads.
FIXTURE_OPTIONS: dict[str, dict] = {
    "felix.yaml": {},
    "felix_breadth.yaml": {},
    "typha.yaml": {},
    "typha_symptoms.yaml": {},
    "kube_controllers.yaml": {},
    "kube_controllers_ipam.yaml": {},
    "overrides.yaml": {"overrides": OVERRIDES},
    "links.yaml": LINKS,
}
DEFAULT_FIXTURES = tuple(name for name, options in FIXTURE_OPTIONS.items() if not options)

# Metric and recorded series names the expressions select from.
SELECTED_NAMES = (
    "up",
    "felix_int_dataplane_failures",
    "felix_int_dataplane_apply_time_seconds",
    "felix_iptables_restore_errors",
    "felix_iptables_save_errors",
    "felix_ipset_errors",
    "felix_nft_errors",
    "felix_nft_set_errors",
    "felix_nft_list_errors",
    "felix_resyncs_started",
    "felix_resync_state",
    "felix_bpf_dirty_dataplane_endpoints",
    "process_start_time_seconds",
    "typha_connections_dropped",
    "typha_client_latency_secs",
    "typha_ping_latency",
    "ipam_allocations_in_use",
    "ipam_allocations_borrowed",
    "ipam_allocations_gc_candidates",
    "ipam_ippool_size",
    "ipam_ippool_reserved",
    *(r.record for r in RECORDING_RULES),
)


def all_rules(groups: list[dict]) -> list[dict]:
    return [rule for group in groups for rule in group["rules"]]


def alerts_by_name(groups: list[dict]) -> dict[str, dict]:
    return {rule["alert"]: rule for rule in all_rules(groups) if "alert" in rule}


# --- builder ----------------------------------------------------------------


def test_alert_names_are_prefixed_unique_and_all_built():
    assert len(ALERT_NAMES) == len(set(ALERT_NAMES))
    for name in ALERT_NAMES:
        assert re.fullmatch(r"Calico[A-Z][A-Za-z]+", name), name
    built = [rule["alert"] for rule in all_rules(build_rule_groups(DEFAULT_JOBS)) if "alert" in rule]
    assert sorted(built) == sorted(ALERT_NAMES)


def test_default_jobs():
    assert DEFAULT_JOBS == {
        "felix": "monitoring/felix",
        "typha": "monitoring/calico-typha",
        "kube-controllers": "monitoring/calico-kube-controllers",
    }


def test_one_group_per_component_in_fixed_order():
    groups = build_rule_groups(DEFAULT_JOBS, components=["kube-controllers", "felix", "typha"])
    assert [g["name"] for g in groups] == [
        "calico-felix.rules",
        "calico-typha.rules",
        "calico-kube-controllers.rules",
    ]
    for group in groups:
        component = group["name"].removeprefix("calico-").removesuffix(".rules")
        names = {r.get("alert") or r.get("record") for r in group["rules"]}
        expected = {a.name for a in ALERTS if a.component == component}
        expected |= {r.record for r in RECORDING_RULES if r.component == component}
        assert names == expected
        # Recording rules come first so alerts read this evaluation's values.
        kinds = ["record" if "record" in r else "alert" for r in group["rules"]]
        assert kinds == sorted(kinds, key=lambda k: k != "record")


def test_components_subset_and_unknown_component():
    groups = build_rule_groups(DEFAULT_JOBS, components=("felix",))
    assert [g["name"] for g in groups] == ["calico-felix.rules"]
    assert build_rule_groups(DEFAULT_JOBS, components=()) == []
    with pytest.raises(ValueError, match="unknown Calico component 'calico-node'"):
        build_rule_groups(DEFAULT_JOBS, components=("calico-node",))
    with pytest.raises(ValueError, match="jobs: unknown Calico component 'kube-controller'"):
        build_rule_groups({"kube-controller": "x"})
    with pytest.raises(ValueError, match="non-empty job"):
        build_rule_groups({"felix": ""})


def test_build_is_deterministic_and_does_not_touch_inputs():
    overrides = copy.deepcopy(OVERRIDES)
    first = build_rule_groups(DEFAULT_JOBS, overrides)
    second = build_rule_groups(dict(DEFAULT_JOBS), copy.deepcopy(OVERRIDES))
    assert yaml.safe_dump(first, sort_keys=False) == yaml.safe_dump(second, sort_keys=False)
    assert overrides == OVERRIDES


def test_rule_shape():
    for rule in all_rules(build_rule_groups(DEFAULT_JOBS)):
        if "record" in rule:
            assert set(rule) == {"record", "expr"}
            # level:metric:operations
            assert re.fullmatch(r"calico:[a-z_]+:[a-z0-9]+", rule["record"]), rule["record"]
            continue
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert set(rule["annotations"]) == {"summary", "description", "runbook"}
        assert "${" not in rule["expr"] + rule["annotations"]["summary"] + rule["annotations"]["description"]


def test_every_selector_is_scoped_to_its_job():
    jobs = {
        "felix": "kube-system/felix-metrics",
        "typha": "kube-system/typha-metrics",
        "kube-controllers": "kube-system/kc-metrics",
    }
    for group in build_rule_groups(jobs):
        component = group["name"].removeprefix("calico-").removesuffix(".rules")
        literal = f'job="{jobs[component]}"'
        for rule in group["rules"]:
            expr = rule["expr"]
            assert "monitoring/" not in expr
            found = 0
            for name in SELECTED_NAMES:
                for m in re.finditer(rf"(?<![\w:]){re.escape(name)}(?![\w:])", expr):
                    found += 1
                    selector = expr[m.end() :]
                    assert selector.startswith("{" + literal), (rule, name)
            assert found, rule
            # Every selector in the expression carries the job matcher, except the
            # kube-state-metrics node condition Felix-down is joined with.
            assert expr.count("{") - expr.count(NODE_NOT_READY) == expr.count(literal), rule


def test_job_value_is_escaped_as_promql_string():
    job = 'team "a"\\prod'
    assert promql_string(job) == '"team \\"a\\"\\\\prod"'
    assert promql_string("a\nb\tc\x01") == '"a\\nb\\tc\\x01"'
    groups = build_rule_groups({"kube-controllers": job}, components=["kube-controllers"])
    down = alerts_by_name(groups)["CalicoKubeControllersDown"]
    assert down["expr"] == 'up{job="team \\"a\\"\\\\prod"} == 0'


def test_job_values_with_spaces_survive():
    groups = build_rule_groups({"felix": "a  b"}, components=["felix"])
    assert 'job="a  b"' in alerts_by_name(groups)["CalicoFelixDown"]["expr"]


def test_missing_job_falls_back_to_default():
    groups = build_rule_groups({"felix": "x/felix"})
    exprs = {r.get("alert") or r["record"]: r["expr"] for r in all_rules(groups)}
    assert 'job="x/felix"' in exprs["CalicoFelixDown"]
    assert 'job="monitoring/calico-typha"' in exprs["CalicoTyphaDown"]


def test_defaults():
    alerts = alerts_by_name(build_rule_groups(DEFAULT_JOBS))
    expected = {
        "CalicoFelixDown": ("10m", "warning"),
        "CalicoFelixDownWidespread": ("5m", "critical"),
        "CalicoFelixTargetsMissing": ("15m", "critical"),
        "CalicoFelixRestarting": ("10m", "warning"),
        "CalicoFelixDataplaneFailures": ("15m", "warning"),
        "CalicoFelixDataplaneFailuresWidespread": ("15m", "critical"),
        "CalicoFelixIptablesErrors": ("15m", "warning"),
        "CalicoFelixIpsetErrors": ("15m", "warning"),
        "CalicoFelixNftablesErrors": ("15m", "warning"),
        "CalicoFelixDataplaneApplySlow": ("15m", "warning"),
        "CalicoFelixFrequentResyncs": ("15m", "warning"),
        "CalicoFelixResyncsWidespread": ("15m", "warning"),
        "CalicoFelixNotInSync": ("15m", "warning"),
        "CalicoFelixNotInSyncWidespread": ("15m", "critical"),
        "CalicoFelixBPFDirtyEndpoints": ("15m", "warning"),
        "CalicoTyphaDown": ("5m", "warning"),
        "CalicoTyphaAllDown": ("5m", "critical"),
        "CalicoTyphaTargetsMissing": ("15m", "critical"),
        "CalicoTyphaConnectionsDropped": ("30m", "warning"),
        "CalicoTyphaClientsLagging": ("10m", "warning"),
        "CalicoTyphaPingSlow": ("15m", "warning"),
        "CalicoKubeControllersDown": ("5m", "warning"),
        "CalicoKubeControllersTargetsMissing": ("15m", "warning"),
        "CalicoIPPoolNearlyExhausted": ("15m", "warning"),
        "CalicoIPPoolBlocksExhausted": ("15m", "warning"),
        "CalicoIPAMGarbageCollectionStuck": ("1h", "warning"),
    }
    assert set(expected) == set(ALERT_NAMES)
    for name, (duration, severity) in expected.items():
        assert alerts[name]["for"] == duration, name
        assert alerts[name]["labels"] == {"severity": severity}, name
    assert alerts["CalicoFelixDataplaneApplySlow"]["expr"].endswith("> 5")
    assert "> 2 unless" in alerts["CalicoFelixFrequentResyncs"]["expr"]
    assert alerts["CalicoIPPoolNearlyExhausted"]["expr"].endswith("> 0.9")
    with_threshold = {a.name for a in ALERTS if a.threshold is not None}
    assert with_threshold == {
        "CalicoFelixDownWidespread",
        "CalicoFelixRestarting",
        "CalicoFelixDataplaneFailuresWidespread",
        "CalicoFelixDataplaneApplySlow",
        "CalicoFelixFrequentResyncs",
        "CalicoFelixResyncsWidespread",
        "CalicoFelixNotInSyncWidespread",
        "CalicoTyphaClientsLagging",
        "CalicoTyphaPingSlow",
        "CalicoIPPoolNearlyExhausted",
    }


def test_every_alert_states_why_its_severity():
    for alert in ALERTS:
        assert alert.why.startswith(alert.severity + ":"), alert.name


def test_cluster_label_is_kept_by_every_aggregation_and_join():
    plain = build_rule_groups(DEFAULT_JOBS)
    with_cluster = build_rule_groups(DEFAULT_JOBS, cluster_label="cluster")
    for before, after in zip(all_rules(plain), all_rules(with_cluster), strict=True):
        for clause in re.findall(r"\b(?:by|on) \(([^)]*)\)", after["expr"]):
            assert clause.startswith("cluster, "), (after.get("alert") or after["record"], clause)
        assert after["expr"].replace("cluster, ", "") == before["expr"]
    with pytest.raises(ValueError, match="cluster_label"):
        build_rule_groups(DEFAULT_JOBS, cluster_label="__cluster")


def test_counters_are_used_without_total_suffix_and_summary_by_quantile():
    text = " ".join(rule["expr"] for rule in all_rules(build_rule_groups(DEFAULT_JOBS)))
    assert "_total" not in text
    assert 'felix_int_dataplane_apply_time_seconds{job="monitoring/felix", quantile="0.99"}' in text


def test_overrides_are_applied():
    groups = build_rule_groups(DEFAULT_JOBS, OVERRIDES)
    alerts = alerts_by_name(groups)
    assert "CalicoFelixDown" not in alerts
    slow = alerts["CalicoFelixDataplaneApplySlow"]
    assert slow["for"] == "5m"
    assert slow["expr"].endswith("> 3")
    assert "above 3s" in slow["annotations"]["description"]
    assert "more than 5m" in slow["annotations"]["description"]
    pool = alerts["CalicoIPPoolNearlyExhausted"]
    assert pool["labels"] == {"severity": "critical"}
    assert pool["expr"].endswith("> 0.95")
    assert "above 95%" in pool["annotations"]["description"]
    typha = alerts["CalicoTyphaDown"]
    assert (typha["for"], typha["labels"]["severity"]) == ("1h", "info")
    # Untouched alerts keep their defaults; recording rules stay for dashboards.
    assert alerts["CalicoFelixTargetsMissing"]["for"] == "15m"
    records = [r["record"] for r in all_rules(groups) if "record" in r]
    assert records == [r.record for r in RECORDING_RULES]


def test_fractional_and_integer_thresholds_render_cleanly():
    alerts = alerts_by_name(
        build_rule_groups(
            DEFAULT_JOBS,
            {
                "CalicoFelixDataplaneApplySlow": {"threshold": 2.5},
                "CalicoFelixFrequentResyncs": {"threshold": 10.0},
                "CalicoIPPoolNearlyExhausted": {"threshold": 1},
            },
        )
    )
    assert alerts["CalicoFelixDataplaneApplySlow"]["expr"].endswith("> 2.5")
    assert "above 2.5s" in alerts["CalicoFelixDataplaneApplySlow"]["annotations"]["description"]
    assert "> 10 unless" in alerts["CalicoFelixFrequentResyncs"]["expr"]
    assert alerts["CalicoIPPoolNearlyExhausted"]["expr"].endswith("> 1")
    assert "above 100%" in alerts["CalicoIPPoolNearlyExhausted"]["annotations"]["description"]


def test_enabled_true_keeps_alert():
    alerts = alerts_by_name(build_rule_groups(DEFAULT_JOBS, {"CalicoFelixDown": {"enabled": True}}))
    assert "CalicoFelixDown" in alerts


def test_overrides_for_components_not_built_are_still_validated():
    with pytest.raises(ValueError, match=r"CalicoTyphaDown\.for"):
        build_rule_groups(DEFAULT_JOBS, {"CalicoTyphaDown": {"for": "soon"}}, components=["felix"])
    build_rule_groups(DEFAULT_JOBS, {"CalicoTyphaDown": {"enabled": False}}, components=["felix"])


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        (
            {"CalicoFelixDwon": {"enabled": False}},
            [
                "calico-monitoring:alerts.overrides.CalicoFelixDwon:",
                "unknown alert 'CalicoFelixDwon'",
                "known alerts: " + ", ".join(ALERT_NAMES),
            ],
        ),
        (
            {"CalicoFelixDown": {"threshold": 2}},
            [
                "calico-monitoring:alerts.overrides.CalicoFelixDown.threshold:",
                "CalicoFelixDown has no threshold",
                "accepted fields for CalicoFelixDown: enabled, for, severity",
            ],
        ),
        (
            {"CalicoFelixDown": {"severty": "info"}},
            [
                "calico-monitoring:alerts.overrides.CalicoFelixDown.severty:",
                "unknown field 'severty'",
                "enabled, for, severity",
            ],
        ),
        (
            {"CalicoFelixDown": {"for": "5 minutes"}},
            [
                "calico-monitoring:alerts.overrides.CalicoFelixDown.for:",
                "invalid value '5 minutes'",
                "Prometheus duration such as 30s, 5m, 1h30m",
            ],
        ),
        (
            {"CalicoFelixDown": {"for": 300}},
            ["calico-monitoring:alerts.overrides.CalicoFelixDown.for:", "invalid value 300"],
        ),
        (
            {"CalicoFelixDown": {"for": ""}},
            ["calico-monitoring:alerts.overrides.CalicoFelixDown.for:", "invalid value ''"],
        ),
        (
            {"CalicoFelixDown": {"severity": "page"}},
            [
                "calico-monitoring:alerts.overrides.CalicoFelixDown.severity:",
                "invalid value 'page'",
                "one of critical, warning, info",
            ],
        ),
        (
            {"CalicoFelixDown": {"enabled": "false"}},
            [
                "calico-monitoring:alerts.overrides.CalicoFelixDown.enabled:",
                "invalid value 'false'",
                "true or false",
            ],
        ),
        (
            {"CalicoFelixDataplaneApplySlow": {"threshold": 0}},
            [
                "calico-monitoring:alerts.overrides.CalicoFelixDataplaneApplySlow.threshold:",
                "invalid value 0",
                "a number greater than 0",
                "seconds",
            ],
        ),
        (
            {"CalicoFelixDataplaneApplySlow": {"threshold": -1.5}},
            ["invalid value -1.5", "greater than 0"],
        ),
        (
            {"CalicoFelixFrequentResyncs": {"threshold": "3"}},
            ["CalicoFelixFrequentResyncs.threshold:", "invalid value '3'", "greater than 0"],
        ),
        (
            {"CalicoFelixFrequentResyncs": {"threshold": True}},
            ["CalicoFelixFrequentResyncs.threshold:", "invalid value True"],
        ),
        (
            {"CalicoFelixFrequentResyncs": {"threshold": float("nan")}},
            ["CalicoFelixFrequentResyncs.threshold:", "invalid value nan"],
        ),
        (
            {"CalicoIPPoolNearlyExhausted": {"threshold": 90}},
            [
                "calico-monitoring:alerts.overrides.CalicoIPPoolNearlyExhausted.threshold:",
                "invalid value 90",
                "greater than 0 and at most 1",
                "fraction",
            ],
        ),
        (
            {"CalicoFelixDown": "off"},
            [
                "calico-monitoring:alerts.overrides.CalicoFelixDown:",
                "expected a mapping",
                "enabled, for, severity",
            ],
        ),
        (["CalicoFelixDown"], ["calico-monitoring:alerts.overrides:", "expected a mapping"]),
    ],
)
def test_validation_messages(overrides, fragments):
    with pytest.raises(ValueError) as excinfo:
        validate_overrides(overrides)
    message = str(excinfo.value)
    for fragment in fragments:
        assert fragment in message, message
    with pytest.raises(ValueError):
        build_rule_groups(DEFAULT_JOBS, overrides)


@pytest.mark.parametrize("duration", ["0", "30s", "5m", "1h30m", "1d", "2w", "1y", "500ms", "1h0m0s"])
def test_valid_durations(duration):
    validate_overrides({"CalicoFelixDown": {"for": duration}})


@pytest.mark.parametrize("duration", ["5", "5M", "m", "1.5h", "5m1h", "-5m", " 5m", "5min"])
def test_invalid_durations(duration):
    with pytest.raises(ValueError, match=r"CalicoFelixDown\.for"):
        validate_overrides({"CalicoFelixDown": {"for": duration}})


def test_no_overrides_is_valid():
    validate_overrides(None)
    validate_overrides({})
    validate_overrides({"CalicoIPPoolNearlyExhausted": {"threshold": 1, "enabled": True}})


# --- runbooks ----------------------------------------------------------------


def github_anchor(heading: str) -> str:
    """The anchor GitHub generates for a Markdown heading."""
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


def runbook_headings() -> list[str]:
    text = RUNBOOKS.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # headings only outside code
    return [m.group(1).strip() for m in re.finditer(r"^##\s+(.+)$", text, flags=re.M)]


def test_every_alert_names_its_runbook_section_in_the_shipped_file():
    """Without alerts.runbookUrlPattern no URL is made up: the annotation names the shipped section."""
    headings = runbook_headings()
    anchors = {github_anchor(h) for h in headings}
    assert (REPO / RUNBOOKS_PATH) == RUNBOOKS
    for rule in alerts_by_name(build_rule_groups(DEFAULT_JOBS)).values():
        assert "runbook_url" not in rule["annotations"]
        assert "dashboard_url" not in rule["annotations"]
        path, _, anchor = rule["annotations"]["runbook"].removeprefix("calico-monitoring ").partition("#")
        assert path == RUNBOOKS_PATH
        assert anchor == rule["alert"].lower()
        assert rule["alert"] in headings, f"docs/runbooks.md has no '## {rule['alert']}' section"
        assert anchor in anchors


def test_runbook_sections_are_only_for_known_alerts():
    sections = [h for h in runbook_headings() if h.startswith("Calico")]
    assert sorted(sections) == sorted(ALERT_NAMES)


def test_runbook_sections_say_what_to_do():
    text = RUNBOOKS.read_text(encoding="utf-8")
    parts = re.split(r"^## ", text, flags=re.M)
    bodies = {p.split("\n", 1)[0].strip(): p for p in parts[1:]}
    for name in ALERT_NAMES:
        body = bodies[name]
        for label in ("**Meaning.**", "**Impact.**", "**Check first.**", "**Resolve.**"):
            assert label in body, (name, label)
        assert re.search(r"\b(kubectl|calicoctl) ", body), name


def test_the_alert_table_states_each_alert_severity_and_why():
    text = (REPO / "docs" / "alerts.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(Calico\w+)` \| (\w+) \| (\w+) \| (.+) \|$", text, flags=re.M)
    assert [name for name, *_ in rows] == list(ALERT_NAMES)
    for (name, severity, duration, why), alert in zip(rows, ALERTS, strict=True):
        assert (severity, duration) == (alert.severity, alert.for_), name
        assert why == alert.why.split(":", 1)[1].strip(), name


def test_runbook_url_pattern_puts_the_alert_name_and_anchor_in():
    groups = build_rule_groups(DEFAULT_JOBS, runbook_url_pattern="https://wiki.example.com/calico/{alert}#{anchor}")
    for rule in alerts_by_name(groups).values():
        assert (
            rule["annotations"]["runbook_url"]
            == f"https://wiki.example.com/calico/{rule['alert']}#{rule['alert'].lower()}"
        )
        assert "runbook" not in rule["annotations"]
    base = build_rule_groups(
        DEFAULT_JOBS, runbook_url_pattern="https://git.example.com/ops/cm/-/blob/v1/docs/runbooks.md#{anchor}"
    )
    down = alerts_by_name(base)["CalicoFelixDown"]["annotations"]["runbook_url"]
    assert down == "https://git.example.com/ops/cm/-/blob/v1/docs/runbooks.md#calicofelixdown"


@pytest.mark.parametrize(
    "pattern",
    [
        "https://wiki.example.com/calico",  # no placeholder: every alert would share one page
        "https://wiki.example.com/{name}",  # an unknown placeholder
        "docs/runbooks.md#{anchor}",  # not an http(s) URL
        "https://user@wiki.example.com/{alert}",
        "https://wiki.example.com/{alert} x",
        "",
    ],
)
def test_runbook_url_pattern_is_checked(pattern):
    assert not is_runbook_url_pattern(pattern)
    with pytest.raises(ValueError, match="runbook_url_pattern"):
        build_rule_groups(DEFAULT_JOBS, runbook_url_pattern=pattern)


def test_dashboard_url_only_with_a_grafana_url_and_to_each_components_dashboard():
    plain = alerts_by_name(build_rule_groups(DEFAULT_JOBS))
    assert not any("dashboard_url" in rule["annotations"] for rule in plain.values())
    linked = alerts_by_name(build_rule_groups(DEFAULT_JOBS, grafana_url="https://grafana.example.com/sub/"))
    shipped_uids = {json.loads((REPO / "dashboards" / f"{c}.json").read_text())["uid"] for c in DASHBOARD_UIDS}
    assert shipped_uids == set(DASHBOARD_UIDS.values())
    for alert in ALERTS:
        url = linked[alert.name]["annotations"]["dashboard_url"]
        assert url.startswith(f"https://grafana.example.com/sub/d/{DASHBOARD_UIDS[alert.component]}?from=now-3h&to=now")
        per_node = "{{ with $labels.node }}&var-node={{ . | urlquery }}{{ end }}"
        assert (per_node in url) == ("node" in alert.dashboard_vars), alert.name
        # the dashboards have a variable for every label an alert selects
        dashboard = json.loads((REPO / "dashboards" / f"{alert.component}.json").read_text())
        names = {v["name"] for v in dashboard["templating"]["list"]}
        assert set(alert.dashboard_vars) <= names, alert.name
    with pytest.raises(ValueError, match="grafana_url"):
        build_rule_groups(DEFAULT_JOBS, grafana_url="grafana.example.com")


# --- promtool -----------------------------------------------------------------


def write_rules(directory: Path, groups: list[dict]) -> Path:
    return write_rule_file(directory / "rules.yaml", groups)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"overrides": OVERRIDES},
        {"components": ["typha"]},
        {"jobs": {"felix": 'odd "job"\\name', "typha": "a b", "kube-controllers": "x{y}\tz\x01"}},
    ],
    ids=["defaults", "overrides", "typha-only", "odd-job-values"],
)
def test_promtool_check_rules(promtool, tmp_path, kwargs):
    kwargs = dict(kwargs)
    jobs = kwargs.pop("jobs", DEFAULT_JOBS)
    groups = build_rule_groups(jobs, **kwargs)
    output = run_promtool(promtool, "check", "rules", str(write_rules(tmp_path, groups)))
    assert f"SUCCESS: {len(all_rules(groups))} rules found" in output


def test_every_fixture_file_is_listed():
    on_disk = sorted(p.name for p in FIXTURES.glob("*.yaml"))
    assert on_disk == sorted(FIXTURE_OPTIONS)


@pytest.mark.parametrize("fixture", sorted(FIXTURE_OPTIONS))
def test_promtool_unit_tests(promtool, tmp_path, fixture):
    spec = yaml.safe_load((FIXTURES / fixture).read_text(encoding="utf-8"))
    assert spec["rule_files"] == ["rules.yaml"]
    write_rules(tmp_path, build_rule_groups(DEFAULT_JOBS, **FIXTURE_OPTIONS[fixture]))
    shutil.copy(FIXTURES / fixture, tmp_path / fixture)
    output = run_promtool(promtool, "test", "rules", str(tmp_path / fixture))
    assert "SUCCESS" in output


def test_promtool_scoping_with_an_escaped_job_value(promtool, tmp_path):
    """A job value needing escapes selects exactly its own series."""
    job = 'team "a"\\prod'
    write_rules(tmp_path, build_rule_groups({"kube-controllers": job}, components=["kube-controllers"]))
    runbook = "calico-monitoring docs/runbooks.md#"
    test_file = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    # PromQL series notation, escaped by hand.
                    {
                        "series": 'up{job="team \\"a\\"\\\\prod", pod="kc-1", instance="10.1.0.1:9094"}',
                        "values": "0x10",
                    },
                    {"series": 'up{job="team a prod", pod="kc-2", instance="10.1.0.2:9094"}', "values": "0x10"},
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "6m",
                        "alertname": "CalicoKubeControllersDown",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "warning",
                                    "job": job,
                                    "pod": "kc-1",
                                    "instance": "10.1.0.1:9094",
                                },
                                "exp_annotations": {
                                    "summary": "calico-kube-controllers pod kc-1 cannot be scraped.",
                                    "description": (
                                        "Prometheus has failed to scrape calico-kube-controllers (pod kc-1, "
                                        "target 10.1.0.1:9094) for more than 5m. While it is down, IPAM "
                                        "garbage collection, node cleanup and IP pool metrics stop."
                                    ),
                                    "runbook": runbook + "calicokubecontrollersdown",
                                },
                            }
                        ],
                    },
                ],
            },
            {
                "interval": "1m",
                "input_series": [
                    {"series": 'up{job="team a prod", pod="kc-2"}', "values": "1x20"},
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "16m",
                        "alertname": "CalicoKubeControllersTargetsMissing",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "warning", "job": job},
                                "exp_annotations": {
                                    "summary": (f"Prometheus has no calico-kube-controllers targets for job {job}."),
                                    "description": (
                                        f"No scrape target with job {job} has existed for more than 15m. "
                                        "Either calico-kube-controllers is not running or its metrics are "
                                        "not being discovered, so IP pool exhaustion cannot be detected."
                                    ),
                                    "runbook": runbook + "calicokubecontrollerstargetsmissing",
                                },
                            }
                        ],
                    },
                ],
            },
        ],
    }
    path = tmp_path / "escaped_job.yaml"
    path.write_text(yaml.safe_dump(test_file, sort_keys=False), encoding="utf-8")
    run_promtool(promtool, "test", "rules", str(path))


def test_promtool_cases_cover_every_alert():
    """Each alert needs a firing and a silent case in the default-rules files."""
    firing: set[str] = set()
    silent: set[str] = set()
    for fixture in DEFAULT_FIXTURES:
        spec = yaml.safe_load((FIXTURES / fixture).read_text(encoding="utf-8"))
        for test in spec["tests"]:
            for case in test.get("alert_rule_test", []):
                name = case["alertname"]
                assert name in ALERT_NAMES, f"{fixture}: unknown alert {name}"
                if case.get("exp_alerts"):
                    firing.add(name)
                    for alert in case["exp_alerts"]:
                        # Exact expectations: severity and every annotation.
                        assert "severity" in alert["exp_labels"], (fixture, name)
                        assert set(alert["exp_annotations"]) == {"summary", "description", "runbook"}
                else:
                    silent.add(name)
    assert not set(ALERT_NAMES) - firing, f"alerts with no firing promtool case: {set(ALERT_NAMES) - firing}"
    assert not set(ALERT_NAMES) - silent, f"alerts with no silent promtool case: {set(ALERT_NAMES) - silent}"


def test_overrides_fixture_matches_overrides():
    """overrides.yaml's header documents OVERRIDES; keep the two in step."""
    header = (FIXTURES / "overrides.yaml").read_text(encoding="utf-8").split("rule_files:")[0]
    for name, settings in OVERRIDES.items():
        for field, value in settings.items():
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            assert re.search(rf"{name}:.*\b{field} {re.escape(shown)}\b", header), (name, field)
