"""dashboards/document.py: the canonical text of a dashboard."""

from __future__ import annotations

import copy
import json

import pytest

from dashboards.document import DashboardError, canonical_json
from dashboards.loading import load_dashboard_sources, shipped_dashboards
from tests.unit.dashboards.dashboard_fixtures import FIXTURES


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


def test_canonical_json_of_every_configmap_fixture_dashboard_matches_the_standard_library():
    documents = [d for path in sorted(FIXTURES.glob("*.yaml")) for d in load_dashboard_sources(str(path)).values()]
    assert documents, "the ConfigMap fixtures hold dashboards"
    for document in documents:
        assert canonical_json(document) == json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_an_imported_dashboard_holding_nan_stops_with_the_float_it_cannot_write(tmp_path):
    path = tmp_path / "nan.json"
    path.write_text('{"title": "N", "panels": [{"fieldConfig": {"max": NaN}}]}')
    (dashboard,) = load_dashboard_sources(str(path)).values()
    with pytest.raises(DashboardError) as raised:
        canonical_json(dashboard)
    assert str(raised.value) == "dashboard 'N': cannot be written as JSON: out of range float value: nan"
