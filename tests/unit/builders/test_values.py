"""The value rules shared by the configuration model and the rule builders."""

import ast
import sys
from pathlib import Path

import pytest

import builders.values
from builders.values import (
    duration_ms,
    http_url_parts,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_etcd_endpoint,
    is_grafana_url,
    is_host,
    is_label_key,
    is_label_value,
    is_non_empty_path,
    is_page_url,
    is_port_name,
    is_positive_duration,
    is_prometheus_label,
    is_prometheus_url,
    is_regex,
)


def test_the_rules_import_only_the_standard_library():
    # Any module, the alerts the model imports included, must be able to use them without an import cycle.
    tree = ast.parse(Path(builders.values.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert {name.split(".")[0] for name in imported} - {"__future__"} <= sys.stdlib_module_names


@pytest.mark.parametrize(
    ("text", "ms"),
    [("1d", 86_400_000), ("1w", 604_800_000), ("2y", 2 * 365 * 86_400_000), ("1m1ms", 60_001), ("1s1m", None)],
)
def test_durations_add_their_units_in_order(text, ms):
    assert duration_ms(text) == ms


@pytest.mark.parametrize(("text", "ok"), [("1s", True), ("0s", False), ("0", False), ("", False), ("5", False)])
def test_positive_durations(text, ok):
    assert is_positive_duration(text) is ok


@pytest.mark.parametrize(("name", "ok"), [("a" * 15, True), ("http-9091", True), ("Http", False), ("a-", False)])
def test_port_names(name, ok):
    assert is_port_name(name) is ok


@pytest.mark.parametrize(
    ("name", "label", "subdomain"),
    [
        ("kube-system", True, True),
        ("calico.node", False, True),
        ("a" * 63, True, True),
        ("a" * 64, False, True),
        ("Kube", False, False),
        ("-a", False, False),
        ("a..b", False, False),
        (".".join(["a" * 63] * 3 + ["a" * 61]), False, True),  # 253 characters
        (".".join(["a" * 63] * 3 + ["a" * 62]), False, False),
    ],
)
def test_kubernetes_names(name, label, subdomain):
    assert is_dns1123_label(name) is label
    assert is_dns1123_subdomain(name) is subdomain


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("release", True),
        ("app.kubernetes.io/part-of", True),
        ("Team_Name.x", True),
        ("a/b/c", False),
        ("Example.com/x", False),
        ("-x", False),
        ("x" * 64, False),
        ("", False),
    ],
)
def test_label_keys(key, ok):
    assert is_label_key(key) is ok


@pytest.mark.parametrize(
    ("value", "ok"), [("", True), ("1", True), ("a.b_c-d", True), ("a b", False), ("x" * 64, False)]
)
def test_label_values(value, ok):
    assert is_label_value(value) is ok


@pytest.mark.parametrize(
    ("name", "ok"), [("job", True), ("__meta_x", True), ("_a1", True), ("1a", False), ("a-b", False)]
)
def test_prometheus_labels(name, ok):
    assert is_prometheus_label(name) is ok


def test_regexes_and_paths():
    assert is_regex("(.*):9091") and not is_regex("(")
    assert is_non_empty_path("/etc/calico") and not is_non_empty_path("") and not is_non_empty_path("a\0b")


@pytest.mark.parametrize(
    ("host", "ok"), [("10.0.0.1", True), ("::1", True), ("node-1.example", True), ("-bad", False), ("a_b", False)]
)
def test_hosts(host, ok):
    assert is_host(host) is ok


@pytest.mark.parametrize(
    ("url", "http", "etcd", "prometheus", "grafana", "page"),
    [
        ("https://10.0.0.1:2379", True, True, True, True, True),
        ("http://prometheus:9090/prom", True, False, True, True, True),
        ("https://wiki.example/runbooks#top", True, False, False, False, True),
        ("http://grafana?x", True, False, False, False, True),
        ("http://user@host", False, False, False, False, True),
        ("http://host:99999", False, False, False, False, True),
        ("https://a:2379,https://b:2379", False, False, False, False, True),
        ("ftp://host", False, False, False, False, False),
        ("http://", False, False, False, False, False),
    ],
)
def test_urls(url, http, etcd, prometheus, grafana, page):
    assert (http_url_parts(url) is not None) is http
    assert is_etcd_endpoint(url) is etcd
    assert is_prometheus_url(url) is prometheus
    assert is_grafana_url(url) is grafana
    assert is_page_url(url) is page
