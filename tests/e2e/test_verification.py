"""`calico-monitoring:verify` on the real engine: `pulumi up` waits for the targets through the operator's
scrape jobs, reports them, and fails naming the job and the cause when Prometheus does not scrape them;
through the API server's service proxy, with the stack's own connection and no port-forward, too."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from patch_release.connection import connection_props, kubernetes_api
from tests.e2e.conftest import ROOT, Cluster
from tests.e2e.network_namespace import RelayedService, relayed_into_a_network_namespace
from tests.e2e.test_pipeline import pipeline_config
from tests.e2e.test_rbac import Identity, apply_rbac
from verification.prometheus_api import PrometheusThroughServiceProxy, PrometheusUnreadable
from verification.prometheus_targets import TARGETS_PATH

pytestmark = pytest.mark.e2e


def verified_config(prometheus_url: str, timeout: int, **felix) -> dict:
    config = pipeline_config()
    config["calico-monitoring:felix"] = {**config["calico-monitoring:felix"], **felix}
    config["calico-monitoring:verify"] = {"prometheusUrl": prometheus_url, "timeoutSeconds": timeout}
    return config


def test_up_waits_until_every_target_is_up_and_reports_them(make_cluster, make_stack, make_pipeline):
    nodes = 3
    cluster = make_cluster(nodes=nodes, real_calico=True)
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
    cluster = make_cluster(nodes=3, real_calico=True)
    if case == "monitor-not-selected":
        # A Prometheus that selects another release's monitors: the program's are never scraped.
        pipeline = make_pipeline(cluster, selector={"release": "another-release"})
        config = verified_config(pipeline.prometheus_url, 20)
        # The preview's selection check would stop this stack before `up` applies anything (that check has
        # its own scenario, test_prometheus_selection.py); off, only verify can catch it.
        config["calico-monitoring:prometheusSelection"] = "off"
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


# kube-prometheus-stack's Prometheus Service for a release named kube-prometheus-stack, and its pod.
SERVICE = "kube-prometheus-stack-prometheus"
POD = "prometheus-kube-prometheus-stack-prometheus-0"


@pytest.fixture
def prometheus_in_a_network_namespace(tmp_path):
    """``relay(pipeline)``: the pipeline's Prometheus answering at an address inside a network namespace made
    for it; the namespace, its veth pair, route and relay process are removed at the end, and checked gone."""
    with contextlib.ExitStack() as made:

        def relay(pipeline) -> RelayedService:
            port = urlsplit(pipeline.prometheus_url).port
            return made.enter_context(relayed_into_a_network_namespace(port, tmp_path))

        yield relay


def expose_as_a_service(cluster: Cluster, relayed: RelayedService) -> None:
    """kube-prometheus-stack's Prometheus Service, its Endpoints naming the relay's address. The service proxy
    dials only the address of a Pod, so a Pod that no scheduler takes has that address in its status."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": POD, "namespace": "monitoring", "labels": {"app.kubernetes.io/name": "prometheus"}},
        "spec": {
            "schedulerName": "e2e-never-scheduled",
            "containers": [{"name": "prometheus", "image": "quay.io/prometheus/prometheus"}],
        },
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(pod))
    address = {"podIP": relayed.address, "podIPs": [{"ip": relayed.address}]}
    cluster.kubectl(
        "patch", "pod", POD, "-n", "monitoring", "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": address}),
    )  # fmt: skip
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": SERVICE, "namespace": "monitoring"},
        "spec": {"ports": [{"name": "http-web", "port": 9090, "targetPort": relayed.port}]},
    }
    endpoints = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": SERVICE, "namespace": "monitoring"},
        "subsets": [
            {
                "addresses": [
                    {"ip": relayed.address, "targetRef": {"kind": "Pod", "namespace": "monitoring", "name": POD}}
                ],
                "ports": [{"name": "http-web", "port": relayed.port}],
            }
        ],
    }
    cluster.kubectl(
        "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [service, endpoints]})
    )


def read_targets_through_the_proxy(kubeconfig: Path, port: str) -> dict:
    with kubernetes_api(connection_props(str(kubeconfig), None, "e2e")) as api:
        prometheus = PrometheusThroughServiceProxy(api, "monitoring", SERVICE, port)
        return prometheus.fetch(prometheus.where + TARGETS_PATH, 10)


def test_up_reads_prometheus_through_the_api_servers_service_proxy(
    make_cluster, make_stack, make_pipeline, prometheus_in_a_network_namespace, pki, tmp_path
):
    nodes = 3
    cluster = make_cluster(nodes=nodes, real_calico=True)
    pipeline = make_pipeline(cluster)
    expose_as_a_service(cluster, prometheus_in_a_network_namespace(pipeline))
    config = pipeline_config()
    config["calico-monitoring:verify"] = {
        "prometheus": {"namespace": "monitoring", "service": SERVICE, "port": "http-web"},
        "timeoutSeconds": 180,
    }
    stack = make_stack(cluster, config)
    stack.up()
    # up returned: the API server proxied verify's reads to the Service's endpoint, the relayed Prometheus.
    assert stack.outputs()["scrapeTargets"] == {
        "monitoring/felix": {"up": nodes, "expected": nodes},
        "monitoring/calico-kube-controllers": {"up": 1, "expected": 1},
    }

    # The right rbac/verify-service-proxy.yaml grants the up group is enough, for that name only.
    apply_rbac(cluster, [d for d in yaml.safe_load_all((ROOT / "rbac/verify-service-proxy.yaml").read_text()) if d])
    identity = Identity(cluster, pki, tmp_path)
    identity.use("up")
    assert len(read_targets_through_the_proxy(identity.path, "http-web")["activeTargets"]) >= nodes + 1
    with pytest.raises(PrometheusUnreadable) as by_number:
        read_targets_through_the_proxy(identity.path, "9090")
    assert "HTTP 403: " in str(by_number.value)
    assert (
        "needs get on services/proxy kube-prometheus-stack-prometheus:9090 in namespace monitoring: "
        "rbac/verify-service-proxy.yaml" in str(by_number.value)
    )
    identity.use("preview")
    with pytest.raises(PrometheusUnreadable) as other_group:
        read_targets_through_the_proxy(identity.path, "http-web")
    assert 'User "calico-monitoring-preview-e2e" cannot get resource "services/proxy"' in str(other_group.value)
    stack.destroy()
