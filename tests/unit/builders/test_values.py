"""The value rules shared by the configuration model and the rule builders."""

import ast
import math
import sys
from pathlib import Path

import pytest

import builders.values
from builders.values import (
    duration_ms,
    http_url_parts,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_duration_or_zero,
    is_etcd_endpoint,
    is_grafana_url,
    is_host,
    is_label_key,
    is_label_name,
    is_label_value,
    is_link_url,
    is_non_empty_path,
    is_page_url,
    is_port_name,
    is_positive_duration,
    is_prometheus_label,
    is_prometheus_url,
    is_regex,
    is_runbook_url_pattern,
    is_threshold,
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


@pytest.mark.parametrize("text", ["\u0665m", "\uff15m", "1h\u0665m", "0\u0665d"])  # Arabic-Indic and fullwidth 5
def test_durations_take_ascii_digits_only(text):
    # Prometheus refuses other digits; the model and the alerts must not take them as numbers.
    assert duration_ms(text) is None
    assert not is_positive_duration(text)
    assert not is_duration_or_zero(text)


@pytest.mark.parametrize(
    ("value", "ok"),
    [("0", True), ("0s", True), ("5m", True), ("1h30m", True), ("00", False), ("0\n", False), ("", False),
     ("5", False), (5, False), (None, False)],
)  # fmt: skip
def test_an_alert_waits_a_duration_or_zero(value, ok):
    assert is_duration_or_zero(value) is ok


@pytest.mark.parametrize(
    ("value", "maximum", "ok"),
    [(2, None, True), (0.5, 1, True), (1, 1, True), (1.0000001, 1, False), (90, 1, False), (1e-300, 1, True),
     (0, None, False), (-1.5, None, False), (True, None, False), ("3", None, False), (None, None, False),
     (math.nan, None, False), (math.inf, None, False), (math.inf, 1, False)],
)  # fmt: skip
def test_thresholds(value, maximum, ok):
    assert is_threshold(value, maximum) is ok


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


@pytest.mark.parametrize(
    ("name", "ok"),
    [("cluster", True), ("_a1", True), ("__name__", False), ("__", False), ("1a", False), ("a-b", False),
     ("", False), (5, False), (None, False)],
)  # fmt: skip
def test_label_names_a_stack_chooses_are_not_reserved(name, ok):
    assert is_label_name(name) is ok


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


@pytest.mark.parametrize(
    ("url", "link", "http"),
    [
        ("https://grafana.example.com/sub/", True, True),
        ("https://h/?q#f", True, True),
        ("https://h:99999/", True, False),  # the links' rule does not check the port
        ("https://h:x/", True, False),
        ("https://grafana.example.com/a b", False, True),  # nor takes whitespace, which http_url_parts does
        ("https://h/\n", False, True),
        (" https://h/", False, True),
        ("https://user@h/", False, False),
        ("https://:80/", False, False),
        ("grafana.example.com", False, False),
    ],
)
def test_link_urls_and_http_url_parts_differ_in_ports_and_whitespace(url, link, http):
    assert is_link_url(url) is link
    assert (http_url_parts(url) is not None) is http


@pytest.mark.parametrize(
    ("pattern", "ok"),
    [
        ("https://wiki.example.com/calico/{alert}#{anchor}", True),
        ("https://wiki.example.com/runbooks.md#{anchor}", True),
        ("https://wiki.example.com:99999/{alert}", True),
        ("https://wiki.example.com/calico", False),
        ("https://wiki.example.com/{name}", False),
        ("https://wiki.example.com/{alert}}", False),
        ("https://wiki.example.com/{alert} x", False),
        ("docs/runbooks.md#{anchor}", False),
        (None, False),
    ],
)
def test_runbook_url_patterns(pattern, ok):
    assert is_runbook_url_pattern(pattern) is ok
