"""Rewriting the selectors of a PromQL query: what an imported dashboard's queries go through."""

from __future__ import annotations

import pytest

from builders.promql import PromQLNameError, selectors, set_label, string_literal, variable_query_span


def felix(selector):
    return "monitoring/felix"


@pytest.mark.parametrize(
    ("expr", "scoped"),
    [
        ("max(felix_cluster_num_hosts)", 'max(felix_cluster_num_hosts{job="monitoring/felix"})'),
        ('rate(x{quantile="0.99"}[5m])', 'rate(x{job="monitoring/felix", quantile="0.99"}[5m])'),
        # a job matcher already there is replaced, whatever its operator
        ('process_cpu_seconds_total{job="typha_metrics"}', 'process_cpu_seconds_total{job="monitoring/felix"}'),
        ('a{ instance=~"$i" , job!~"x" }', 'a{job="monitoring/felix", instance=~"$i"}'),
        ("a{quantile='0.99'}", "a{job=\"monitoring/felix\", quantile='0.99'}"),
        ("a{}", 'a{job="monitoring/felix"}'),
        ('{__name__="a", x="1"}', '{job="monitoring/felix", __name__="a", x="1"}'),
        # everything around the selectors stays as written
        ("clamp_min(a_total-b_total, 0)",
         'clamp_min(a_total{job="monitoring/felix"}-b_total{job="monitoring/felix"}, 0)'),
        ("topk($top_n, rate(a[$__rate_interval]))*60",
         'topk($top_n, rate(a{job="monitoring/felix"}[$__rate_interval]))*60'),
        ("sum by(instance) (a) / on (instance) group_left b offset 5m",
         'sum by(instance) (a{job="monitoring/felix"}) / on (instance) group_left b{job="monitoring/felix"} offset 5m'),
        ('label_replace(a, "dst", "$1", "src", "(.*)")',
         'label_replace(a{job="monitoring/felix"}, "dst", "$1", "src", "(.*)")'),
        ("a\n", 'a{job="monitoring/felix"}\n'),
        ("1 + 2", "1 + 2"),
    ],
)  # fmt: skip
def test_set_label(expr, scoped):
    assert set_label(expr, "job", felix) == scoped
    # and again: the result is already scoped
    assert set_label(scoped, "job", felix) == scoped


def test_set_label_asks_per_selector_and_skips_where_told():
    seen = []

    def job_of(selector):
        seen.append(selector.name)
        return None if selector.name == "up" else f"job-of-{selector.name}"

    assert set_label("a + up + b", "job", job_of) == 'a{job="job-of-a"} + up + b{job="job-of-b"}'
    assert seen == ["a", "up", "b"]


def test_the_label_value_is_quoted_for_promql():
    assert string_literal('ns/x"y\\z') == '"ns/x\\"y\\\\z"'
    scoped = set_label("a", "job", lambda s: 'we"ird')
    assert scoped == 'a{job="we\\"ird"}'
    assert selectors(scoped)[0].labels == ("job",)


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("label_values(felix_resync_state, instance)", "felix_resync_state"),
        ('label_values(a{job="x", b=~"p,q"}, node)', 'a{job="x", b=~"p,q"}'),
        ("query_result(topk(5, a))", "topk(5, a)"),
        ("max(a)", "max(a)"),
        ("label_values(node)", None),
        ("label_names()", None),
        ("", None),
    ],
)
def test_variable_query_span(text, span):
    found = variable_query_span(text)
    assert (text[found[0] : found[1]] if found else None) == span


def test_a_query_the_reader_cannot_take_apart_is_not_rewritten_blindly():
    with pytest.raises(PromQLNameError):
        set_label('a{job="x"', "job", felix)
