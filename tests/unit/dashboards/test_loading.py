"""dashboards/loading.py: dashboards from a JSON file or a ConfigMap YAML, and what stops a bad one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dashboards.datasources import rewrite_datasources
from dashboards.document import DashboardError
from dashboards.loading import load_dashboard_sources
from tests.support.grafana import foreign_refs
from tests.unit.dashboards.dashboard_fixtures import FIXTURES, UID


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
