"""`calico-monitoring:verify` on the real engine: `pulumi up` waits for the targets through the operator's
scrape jobs, reports them, and fails naming the job and the cause when Prometheus does not scrape them."""

from __future__ import annotations

import pytest

from tests.e2e.test_pipeline import pipeline_config

pytestmark = pytest.mark.e2e


def verified_config(prometheus_url: str, timeout: int, **felix) -> dict:
    config = pipeline_config()
    config["calico-monitoring:felix"] = {**config["calico-monitoring:felix"], **felix}
    config["calico-monitoring:verify"] = {"prometheusUrl": prometheus_url, "timeoutSeconds": timeout}
    return config


def test_up_waits_until_every_target_is_up_and_reports_them(make_cluster, make_stack, make_pipeline):
    nodes = 3
    cluster = make_cluster(nodes=nodes)
    pipeline = make_pipeline(cluster)
    stack = make_stack(cluster, verified_config(pipeline.prometheus_url, 180))
    stack.up()
    # up returned: Prometheus already scraped every calico-node pod and kube-controllers, through the
    # jobs prometheus-operator generated from the monitors this up created.
    assert stack.outputs()["scrapeTargets"] == {
        "monitoring/felix": {"up": nodes, "expected": nodes},
        "monitoring/calico-kube-controllers": {"up": 1, "expected": 1},
    }
    up = {r["metric"]["pod"] for r in pipeline.prometheus.query('up{job="monitoring/felix"} == 1')}
    assert len(up) == nodes
    preview = stack.preview("--expect-no-changes")
    assert "scrapeTargets" not in preview.stderr
    stack.destroy()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("monitor-not-selected", "Prometheus does not select monitor monitoring/felix"),
        ("targets-down", "3 of 3 targets down"),
    ],
)
def test_up_fails_naming_the_job_and_the_cause(make_cluster, make_stack, make_pipeline, case, expected):
    cluster = make_cluster(nodes=3)
    if case == "monitor-not-selected":
        # A Prometheus that selects another release's monitors: the program's are never scraped.
        pipeline = make_pipeline(cluster, selector={"release": "another-release"})
        config = verified_config(pipeline.prometheus_url, 20)
    else:
        # Felix binds its metrics to another address than the pod's: the targets exist but cannot be scraped.
        pipeline = make_pipeline(cluster)
        config = verified_config(pipeline.prometheus_url, 20, metricsHost="127.0.0.1")
    stack = make_stack(cluster, config)
    result = stack.up(check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"calico-monitoring:verify: Prometheus at {pipeline.prometheus_url} does not scrape" in output
    assert f"  - monitoring/felix: 0/3 up: {expected}" in output, output[-3000:]
    # What was applied stays in state: destroy gives it all back.
    stack.destroy()
    assert cluster.get("podmonitor", "felix", "monitoring") is None
