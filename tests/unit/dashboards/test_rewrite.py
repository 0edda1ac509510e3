"""Unit tests of dashboards/rewrite.py and of the shipped dashboards' structure."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from dashboards.configmaps import configmap_sizes
from dashboards.rewrite import (
    DASHBOARDS_DIR,
    DashboardError,
    canonical_json,
    load_dashboard_sources,
    rewrite_datasources,
    set_job,
    shipped_dashboards,
)
from tests.paths import FIXTURES as TEST_FIXTURES
from tests.paths import ROOT
from tests.support.grafana import (
    DATASOURCE_REF,
    datasource_refs,
    datasource_variable,
    foreign_refs,
    iter_panels,
    queries_without_datasource,
    variables,
)

FIXTURES = TEST_FIXTURES / "dashboards"
UID = "prom-main-7f3a"

# References each fixture must keep after the rewrite: Grafana's own sources and non-Prometheus ones.
KEPT_REFS = {
    "grafana-external-export.json": [
        {"type": "grafana", "uid": "-- Grafana --"},
        {"type": "loki", "uid": "${DS_LOKI}"},
        "${DS_LOKI}",
        {"type": "loki", "uid": "${DS_LOKI}"},
        {"type": "datasource", "uid": "-- Mixed --"},
        {"type": "loki", "uid": "loki-uid-1"},
        {"type": "datasource", "uid": "-- Dashboard --"},
        {"type": "datasource", "uid": "-- Dashboard --"},
        {"type": "__expr__", "uid": "__expr__"},
        {"type": "loki", "uid": "${DS_LOKI}"},
    ],
    "legacy-rows.json": ["-- Grafana --"],
    "grafana-ui-export.json": [{"type": "datasource", "uid": "grafana"}],
}


def load_fixture(name: str) -> dict:
    return load_dashboard_sources(str(FIXTURES / name))[name]


# --------------------------------------------------------------------------- rewrite_datasources


@pytest.mark.parametrize("name", sorted(KEPT_REFS))
def test_rewrite_leaves_only_our_variable_and_what_is_not_prometheus(name):
    rewritten = rewrite_datasources(load_fixture(name), UID)

    kept = [ref for _path, ref in datasource_refs(rewritten) if ref != DATASOURCE_REF]
    assert sorted(map(json.dumps, kept)) == sorted(map(json.dumps, KEPT_REFS[name]))
    assert queries_without_datasource(rewritten) == []
    variable = datasource_variable(rewritten)
    assert variable["query"] == "prometheus"
    assert variable["current"]["value"] == UID
    assert variable["multi"] is False and variable["includeAll"] is False


def test_rewrite_of_external_export_handles_placeholders_variables_and_inputs():
    original = load_fixture("grafana-external-export.json")
    rewritten = rewrite_datasources(original, UID)
    text = canonical_json(rewritten)

    assert "DS_PROMETHEUS" not in text
    assert "P8E80F9AEF21F6940" not in text and "a7Kd9xQ4z" not in text and "prometheus-k8s" not in text
    assert "${prom}" not in text and "$prom" not in text
    # The Prometheus input is gone; Loki's and the constant's are still needed.
    assert [entry["name"] for entry in rewritten["__inputs"]] == ["DS_LOKI", "VAR_CLUSTER"]
    assert rewritten["__requires"] == original["__requires"]
    # The other Prometheus data source variable went with its references; Loki's stays.
    names = [v["name"] for v in rewritten["templating"]["list"]]
    assert names == ["datasource", "logs", "node", "namespace", "pod", "filters", "app", "cluster", "interval"]
    by_name = variables(rewritten)
    for name in ("node", "namespace", "pod", "filters"):
        assert by_name[name]["datasource"] == DATASOURCE_REF, name
    assert by_name["app"]["datasource"] == {"type": "loki", "uid": "${DS_LOKI}"}
    assert "datasource" not in by_name["interval"]
    # Annotations: built-in untouched, Prometheus ones (also the null one with an expr) rewritten, Loki kept.
    annotations = rewritten["annotations"]["list"]
    assert annotations[0] == original["annotations"]["list"][0]
    assert [a["datasource"] for a in annotations[1:]] == [
        DATASOURCE_REF,
        DATASOURCE_REF,
        {"type": "loki", "uid": "${DS_LOKI}"},
    ]
    panels = {p["id"]: p for p in iter_panels(rewritten)}
    assert "datasource" not in panels[13], "a text panel gets no data source"
    assert panels[7]["datasource"] == DATASOURCE_REF, "a row's explicit reference is rewritten too"
    assert [t["datasource"] for t in panels[11]["targets"]] == [
        {"type": "loki", "uid": "loki-uid-1"},
        DATASOURCE_REF,
        DATASOURCE_REF,
    ]
    assert panels[14]["targets"][1]["datasource"] == {"type": "__expr__", "uid": "__expr__"}


def test_rewrite_of_legacy_rows_layout():
    rewritten = rewrite_datasources(load_fixture("legacy-rows.json"), UID)
    panels = [p for row in rewritten["rows"] for p in row["panels"]]
    assert [p["datasource"] for p in panels] == [DATASOURCE_REF] * 3
    assert [t["datasource"] for p in panels for t in p["targets"]] == [DATASOURCE_REF] * 3
    variable = datasource_variable(rewritten)
    assert variable["current"] == {"selected": False, "text": UID, "value": UID}
    assert variable["options"] == []
    assert variables(rewritten)["instance"]["datasource"] == DATASOURCE_REF


def test_rewrite_adds_the_variable_first_when_missing_and_updates_it_when_present():
    added = rewrite_datasources(load_fixture("grafana-external-export.json"), UID)
    assert added["templating"]["list"][0]["name"] == "datasource"

    existing = load_fixture("grafana-ui-export.json")
    updated = rewrite_datasources(existing, UID)
    assert [v["name"] for v in updated["templating"]["list"]] == ["datasource", "job"]
    assert datasource_variable(updated)["current"]["value"] == UID

    no_templating = {"title": "Bare", "panels": [{"type": "stat", "targets": [{"expr": "up", "refId": "A"}]}]}
    rewritten = rewrite_datasources(no_templating, UID)
    assert datasource_variable(rewritten)["current"]["value"] == UID
    assert rewritten["panels"][0]["datasource"] == DATASOURCE_REF


def test_rewrite_does_not_modify_its_argument_and_is_idempotent():
    for name in KEPT_REFS:
        original = load_fixture(name)
        before = copy.deepcopy(original)
        once = rewrite_datasources(original, UID)
        assert original == before, name
        assert rewrite_datasources(once, UID) == once, name
        assert rewrite_datasources(once, "other-uid") == rewrite_datasources(original, "other-uid"), name


def test_rewrite_rejects_bad_arguments_and_conflicting_variables():
    dashboard = load_fixture("grafana-ui-export.json")
    with pytest.raises(DashboardError, match="non-empty"):
        rewrite_datasources(dashboard, " ")
    with pytest.raises(DashboardError, match="expected a JSON object"):
        rewrite_datasources(["not", "a", "dashboard"], UID)

    wrong_type = copy.deepcopy(dashboard)
    wrong_type["templating"]["list"][0]["type"] = "custom"
    with pytest.raises(
        DashboardError, match=r"^dashboard 'Fixture / UI export with variable' \(uid fixture-ui-export\)"
    ):
        rewrite_datasources(wrong_type, UID)

    loki_variable = copy.deepcopy(dashboard)
    loki_variable["templating"]["list"][0]["query"] = "loki"
    with pytest.raises(DashboardError, match="selects 'loki' data sources"):
        rewrite_datasources(loki_variable, UID)


# --------------------------------------------------------------------------- set_job


def test_set_job_sets_query_current_and_options_on_a_copy():
    dashboard = load_fixture("grafana-ui-export.json")
    before = copy.deepcopy(dashboard)
    result = set_job(dashboard, "observability/felix-metrics")
    assert dashboard == before
    job = variables(result)["job"]
    assert job["query"] == "observability/felix-metrics"
    assert job["current"]["value"] == job["current"]["text"] == "observability/felix-metrics"
    assert job["options"] == [
        {"selected": True, "text": "observability/felix-metrics", "value": "observability/felix-metrics"}
    ]
    assert job["hide"] == 2 and job["type"] == "constant"


def test_set_job_errors():
    with pytest.raises(DashboardError, match=r"^dashboard 'Fixture / legacy rows': has no 'job' template variable"):
        set_job(load_fixture("legacy-rows.json"), "monitoring/felix")
    not_constant = load_fixture("grafana-ui-export.json")
    not_constant["templating"]["list"][1]["type"] = "custom"
    with pytest.raises(DashboardError, match="is of type 'custom', expected 'constant'"):
        set_job(not_constant, "monitoring/felix")
    with pytest.raises(DashboardError, match="non-empty"):
        set_job(load_fixture("grafana-ui-export.json"), "")


# --------------------------------------------------------------------------- load_dashboard_sources


def test_load_json_file_is_keyed_by_basename():
    loaded = load_dashboard_sources(str(FIXTURES / "legacy-rows.json"))
    assert list(loaded) == ["legacy-rows.json"]
    assert loaded["legacy-rows.json"]["title"] == "Fixture / legacy rows"


def test_load_configmaps_from_several_documents_and_a_list():
    loaded = load_dashboard_sources(str(FIXTURES / "configmaps.yaml"))
    assert sorted(loaded) == ["alpha.json", "beta.json", "gamma.json"]
    assert loaded["gamma.json"]["rows"][0]["panels"][0]["title"] == "G"
    for key, dashboard in loaded.items():
        assert foreign_refs(rewrite_datasources(dashboard, UID)) == [], key


def write(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: dash
  namespace: monitoring
data:
"""


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("broken.json", '{"title": "x", "panels": [}', "invalid JSON at line 1 column 27"),
        ("list.json", "[1, 2]", "not a Grafana dashboard: expected a JSON object, got list"),
        ("nopanels.json", '{"title": "x"}', "not a Grafana dashboard: it has no 'panels' or 'rows' list"),
        ("notitle.json", '{"panels": []}', "not a Grafana dashboard: it has no 'title'"),
        ("latin1.json", b'{"title": "\xe9"}', "not UTF-8 text"),
        ("bad.yaml", "kind: ConfigMap\ndata: [unclosed\n", "invalid YAML at line 3 column 1:"),
        (
            "empty-cm.yaml",
            CONFIGMAP + "  provider.yaml: x\n",
            "ConfigMap monitoring/dash has no data keys ending in .json",
        ),
        ("nodata-cm.yaml", CONFIGMAP.removesuffix("data:\n"), "has no data keys ending in .json"),
        ("other.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n", "no ConfigMap found"),
        ("scalar.yaml", "just text\n", "document 1 is not a Kubernetes object"),
        ("dashboard.txt", "{}", "unsupported file type '.txt'"),
    ],
)
def test_load_errors_name_the_file_and_the_reason(tmp_path, name, content, reason):
    path = write(tmp_path, name, content)
    with pytest.raises(DashboardError) as raised:
        load_dashboard_sources(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: "), message
    assert reason in message, message


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('\'{"title": "x", "panels": [\'', "invalid JSON at line 1"),
        ("'{\"panels\": []}'", "not a Grafana dashboard: it has no 'title'"),
        ("42", "expected a string, got int"),
    ],
)
def test_load_errors_in_a_configmap_name_the_key(tmp_path, value, reason):
    path = write(
        tmp_path, "cm.yaml", CONFIGMAP + f'  good.json: \'{{"title": "ok", "panels": []}}\'\n  bad.json: {value}\n'
    )
    with pytest.raises(DashboardError) as raised:
        load_dashboard_sources(path)
    assert str(raised.value).startswith(f"{path}: ConfigMap monitoring/dash, key bad.json: {reason}")


def test_load_rejects_the_same_key_twice(tmp_path):
    document = CONFIGMAP + '  a.json: \'{"title": "ok", "panels": []}\'\n'
    path = write(tmp_path, "twice.yaml", document + "---\n" + document)
    with pytest.raises(DashboardError, match=r"key a\.json: a dashboard with this key appears earlier"):
        load_dashboard_sources(path)


def test_load_unreadable_files(tmp_path):
    missing = str(tmp_path / "missing.json")
    with pytest.raises(DashboardError, match=rf"^{missing}: cannot read the file: No such file or directory"):
        load_dashboard_sources(missing)
    directory = tmp_path / "dir.json"
    directory.mkdir()
    with pytest.raises(DashboardError, match=rf"^{directory}: cannot read the file"):
        load_dashboard_sources(str(directory))
    if os.geteuid() != 0:  # root reads files whatever their mode
        locked = Path(write(tmp_path, "locked.json", '{"title": "x", "panels": []}'))
        locked.chmod(0)
        with pytest.raises(DashboardError, match="Permission denied"):
            load_dashboard_sources(str(locked))


# --------------------------------------------------------------------------- canonical_json


def test_canonical_json_is_sorted_indented_unicode_and_newline_terminated():
    a = {"title": "Größe ✓", "panels": [{"b": 1, "a": [1, 2]}], "uid": "x"}
    b = {"uid": "x", "panels": [{"a": [1, 2], "b": 1}], "title": "Größe ✓"}
    text = canonical_json(a)
    assert text == canonical_json(b)
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert "Größe ✓" in text
    assert text.splitlines()[1] == '  "panels": ['
    assert json.loads(text) == a
    assert canonical_json(json.loads(text)) == text


def test_canonical_json_rejects_what_json_cannot_hold():
    with pytest.raises(DashboardError, match="cannot be written as JSON"):
        canonical_json({"title": "t", "panels": [], "value": float("nan")})


def test_a_one_panel_change_is_a_small_diff():
    dashboard = shipped_dashboards()["felix.json"]
    changed = copy.deepcopy(dashboard)
    changed["panels"][1]["title"] = "Renamed"
    before, after = canonical_json(dashboard).splitlines(), canonical_json(changed).splitlines()
    assert len(before) == len(after)
    assert sum(x != y for x, y in zip(before, after, strict=True)) == 1


# --------------------------------------------------------------------------- configmap_sizes


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


# --------------------------------------------------------------------------- the shipped dashboards

EXPECTED = {
    "felix.json": ("calico-felix", "Calico / Felix", "monitoring/felix"),
    "typha.json": ("calico-typha", "Calico / Typha", "monitoring/calico-typha"),
    "kube-controllers.json": (
        "calico-kube-controllers",
        "Calico / Kube Controllers",
        "monitoring/calico-kube-controllers",
    ),
}


def test_shipped_dashboards_load_from_the_module_location_not_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dashboards = shipped_dashboards()
    assert list(dashboards) == list(EXPECTED)
    assert ROOT / "dashboards" == DASHBOARDS_DIR


@pytest.mark.parametrize("name", list(EXPECTED))
def test_shipped_dashboard_identity_and_variables(name):
    dashboard = shipped_dashboards()[name]
    uid, title, job = EXPECTED[name]
    assert (dashboard["uid"], dashboard["title"], dashboard["tags"]) == (uid, title, ["calico"])
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard["id"] is None
    by_name = variables(dashboard)
    assert by_name["datasource"]["type"] == "datasource"
    assert by_name["datasource"]["query"] == "prometheus"
    assert by_name["job"]["type"] == "constant"
    assert by_name["job"]["hide"] == 2
    assert by_name["job"]["query"] == by_name["job"]["current"]["value"] == job


@pytest.mark.parametrize("name", list(EXPECTED))
def test_shipped_dashboard_panels_and_targets_use_the_datasource_variable(name):
    dashboard = shipped_dashboards()[name]
    assert foreign_refs(dashboard) == []
    for panel in iter_panels(dashboard):
        assert panel.get("datasource") == DATASOURCE_REF, panel["title"]
        for target in panel.get("targets", []):
            assert target["datasource"] == DATASOURCE_REF, panel["title"]
    for variable in variables(dashboard).values():
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE_REF
    assert rewrite_datasources(dashboard, UID) == _with_current_datasource(dashboard, UID)


def _with_current_datasource(dashboard: dict, uid: str) -> dict:
    expected = copy.deepcopy(dashboard)
    variable = variables(expected)["datasource"]
    variable["current"] = {"selected": False, "text": uid, "value": uid}
    return expected


@pytest.mark.parametrize("name", list(EXPECTED))
def test_shipped_dashboard_layout(name):
    dashboard = shipped_dashboards()[name]
    panels = list(iter_panels(dashboard))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["title"], panel
        if panel["type"] != "row":
            assert panel.get("description"), f"{panel['title']}: every panel explains itself"
            assert panel["targets"], panel["title"]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_shipped_dashboard_files_are_canonical(name):
    text = (DASHBOARDS_DIR / name).read_text(encoding="utf-8")
    assert text == canonical_json(json.loads(text)), "store dashboards as canonical_json() writes them"


CANONICAL_CASES = [
    {"b": 1, "a": [1, 2.5, -0.0, 1e300, True, False, None, "x"], "c": {}, "d": [], "e": [{}, [], [[]]]},
    {"ünïcode": 'snowman ☃ \u2028 tab\t quote" backslash\\ nul\u0000 emoji 😀', "n": {"deep": {"er": [{"z": 0}]}}},
    {"big": 12345678901234567890, "neg": -3, "f": 0.1 + 0.2},
]


@pytest.mark.parametrize("document", CANONICAL_CASES)
def test_canonical_json_is_exactly_the_standard_library_indented_form(document):
    expected = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    assert canonical_json(document) == expected


def test_canonical_json_of_every_shipped_and_fixture_dashboard_matches_the_standard_library():
    documents = list(shipped_dashboards().values())
    for path in sorted(FIXTURES.glob("*.json")):
        documents.append(json.loads(path.read_text()))
    for document in documents:
        assert canonical_json(document) == json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {1: "non-string key"}, object()])
def test_canonical_json_rejects_every_value_json_cannot_hold(bad):
    with pytest.raises(DashboardError, match="cannot be written as JSON"):
        canonical_json({"title": "t", "panels": [], "x": bad})


def test_copy_false_changes_the_given_dashboard_and_gives_the_same_result():
    original = shipped_dashboards()["felix.json"]
    expected = rewrite_datasources(set_job(original, "a/b"), "uid-1")
    assert original == shipped_dashboards()["felix.json"]  # the default leaves the argument alone
    in_place = set_job(original, "a/b", copy=False)
    assert in_place is original
    assert rewrite_datasources(in_place, "uid-1", copy=False) is original
    assert original == expected
