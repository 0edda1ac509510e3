"""The preview's word on restarts, on the mock engine: each workload patch that is not applied yet warns with
what it restarts, read from the live object; a patched cluster, an `up` and a service scrape say nothing."""

from __future__ import annotations

import logging

import pytest

from tools.evaluator.mock_engine import evaluate

KDD = {"kubernetes:context": "c", "calico-monitoring:datastore": {"type": "kubernetes"}}
SERVICE_SCRAPE = "`pulumi config set --path calico-monitoring:felix.scrape service`"
TYPHA_ENV = [
    {"name": "TYPHA_PROMETHEUSMETRICSENABLED", "value": "true"},
    {"name": "TYPHA_PROMETHEUSMETRICSPORT", "value": "9093"},
]

FELIX = (
    "`pulumi up` adds Felix's metrics port to DaemonSet kube-system/calico-node: its 40 pods restart, 4 at a time "
    "(maxUnavailable 10%), in 10 rounds that each wait for the new pods to be ready; `pulumi destroy` removes it "
    "and restarts them again. To leave DaemonSet kube-system/calico-node alone, scrape through a Service instead: "
    f"{SERVICE_SCRAPE}."
)
TYPHA = (
    "`pulumi up` adds Typha's metrics settings to Deployment kube-system/calico-typha: its 3 pods restart together "
    "(maxSurge 100%, maxUnavailable 1: each new pod starts before its old one stops); `pulumi destroy` removes them "
    "and restarts them again. Typha reads its metrics settings only when it starts, so no scrape mode avoids this."
)
KUBE_CONTROLLERS = (
    "`pulumi up` adds calico-kube-controllers' metrics port to Deployment kube-system/calico-kube-controllers: its "
    "pod stops, then a new one starts (strategy Recreate); `pulumi destroy` removes it and restarts it again. To "
    "leave Deployment kube-system/calico-kube-controllers alone, scrape through a Service instead: "
    f"{SERVICE_SCRAPE}."
)


class Cluster:
    """What the reads find: Calico's workloads shaped as its manifests ship them, with the program's entries
    (``patched``) or without."""

    def __init__(self, *, patched: bool = False, typha_metrics_port: int | None = None) -> None:
        self.patched = patched
        self.typha_metrics_port = typha_metrics_port

    def container(self, name: str, port: int, env: list[dict] | None = None) -> dict:
        entry: dict = {"name": name, "image": f"calico/{name}"}
        if self.patched:
            entry["ports"] = [{"containerPort": port, "name": "http-metrics", "protocol": "TCP"}]
            if env:
                entry["env"] = env
        return {"template": {"spec": {"containers": [entry]}}}

    def __call__(self, args):
        if not args.resource_id:
            return {}
        if args.typ == "kubernetes:apps/v1:DaemonSet":
            strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}}
            spec = {"updateStrategy": strategy, **self.container("calico-node", 9091)}
            return {"spec": spec, "status": {"desiredNumberScheduled": 40}}
        if args.resource_id.endswith("/calico-typha"):
            strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 1}}
            return {"spec": {"replicas": 3, "strategy": strategy, **self.container("calico-typha", 9093, TYPHA_ENV)}}
        if args.resource_id.endswith("/calico-kube-controllers"):
            strategy = {"type": "Recreate"}
            return {"spec": {"replicas": 1, "strategy": strategy, **self.container("calico-kube-controllers", 9094)}}
        if args.typ == "kubernetes:operator.tigera.io/v1:Installation":
            port = {"typhaMetricsPort": self.typha_metrics_port} if self.typha_metrics_port else {}
            return {"spec": {"variant": "Calico", **port}}
        return {}


def warnings(caplog, config, cluster, *, preview=True):
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        evaluate(config, outputs=cluster, preview=preview)
    return sorted(record.getMessage() for record in caplog.records if record.levelno == logging.WARNING)


def test_a_preview_says_what_each_patch_will_restart(caplog):
    config = {**KDD, "calico-monitoring:typha": {"enabled": True}}
    assert warnings(caplog, config, Cluster()) == sorted([FELIX, TYPHA, KUBE_CONTROLLERS])


def test_nothing_is_said_once_the_patches_are_applied_or_during_up(caplog):
    config = {**KDD, "calico-monitoring:typha": {"enabled": True}}
    assert warnings(caplog, config, Cluster(patched=True)) == []
    assert warnings(caplog, config, Cluster(), preview=False) == []


def test_a_service_scrape_restarts_only_typha(caplog):
    config = {**KDD, "calico-monitoring:typha": {"enabled": True}, "calico-monitoring:felix": {"scrape": "service"}}
    assert warnings(caplog, config, Cluster()) == [TYPHA]


@pytest.mark.parametrize(("port", "expected"), [(None, 1), (9093, 0)])
def test_an_operator_install_warns_until_the_installation_has_typhas_port(caplog, port, expected):
    config = {**KDD, "calico-monitoring:install": "operator"}
    said = warnings(caplog, config, Cluster(typha_metrics_port=port))
    assert (
        said
        == [
            "`pulumi up` sets typhaMetricsPort 9093 on Installation default: the Tigera operator then turns Typha's "
            "metrics on in Deployment calico-system/calico-typha, which restarts its pods at the pace the operator "
            "sets; `pulumi destroy` removes it and the operator restarts them again. Typha reads its metrics settings "
            "only when it starts, so no scrape mode avoids this."
        ][:expected]
    )


@pytest.mark.parametrize(
    ("config", "reads"),
    [
        (
            {"calico-monitoring:typha": {"enabled": True}},
            [
                "calico-monitoring-prerequisites-calico-node",
                "calico-monitoring-typha-live-deployment",
                "calico-monitoring-kube-controllers-live-deployment",
            ],
        ),
        (
            {"calico-monitoring:install": "operator"},
            ["calico-monitoring-prerequisites-tigera-operator-installation-default"],
        ),
    ],
)
def test_the_warnings_read_objects_before_and_apart_from_the_patches(config, reads):
    # A read that waits for a resource the preview would create gives nothing known (seen on the real engine).
    evaluation = evaluate({**KDD, **config}, outputs=Cluster(), preview=True)
    assert {name: evaluation.read_dependencies[name] for name in reads} == {name: [] for name in reads}
