"""FelixMetrics on the mock engine: the calico-node port patch of a stack whose DaemonSet,
container and namespace are not the defaults."""

from __future__ import annotations

import pytest

from tools.evaluator.mock_engine import evaluate

BASE = {"kubernetes:context": "c", "calico-monitoring:datastore": {"type": "kubernetes"}}
DAEMONSET_PATCH = "kubernetes:apps/v1:DaemonSetPatch"


class Reads:
    """The objects the program reads through the mock engine (kind, namespace/name)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, args):
        if args.resource_id:
            self.seen.append((args.typ, args.resource_id))
        return {}


@pytest.mark.parametrize(
    ("calico_node", "expected"),
    [
        (
            {"daemonSet": "canal", "container": "calico-node", "namespace": "kube-system"},
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": {
                    "name": "canal",
                    "namespace": "kube-system",
                    "annotations": {"pulumi.com/skipAwait": "true"},
                },
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "calico-node",
                                    "ports": [{"containerPort": 9091, "name": "http-metrics", "protocol": "TCP"}],
                                }
                            ]
                        }
                    }
                },
            },
        ),
        (
            {"daemonSet": "calico-node-v3", "container": "felix-agent", "namespace": "calico-net"},
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": {
                    "name": "calico-node-v3",
                    "namespace": "calico-net",
                    "annotations": {"pulumi.com/skipAwait": "true"},
                },
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "felix-agent",
                                    "ports": [{"containerPort": 9091, "name": "http-metrics", "protocol": "TCP"}],
                                }
                            ]
                        }
                    }
                },
            },
        ),
    ],
    ids=["canal", "all-different"],
)
def test_the_daemonset_patch_names_the_configured_daemonset_and_container(calico_node, expected):
    reads = Reads()
    evaluation = evaluate({**BASE, "calico-monitoring:calicoNode": calico_node}, outputs=reads)
    [patch] = evaluation.by_type(DAEMONSET_PATCH)
    assert patch.plain_inputs == expected
    # The prerequisites and the rollout read that DaemonSet, and no other.
    daemon_set = f"{expected['metadata']['namespace']}/{expected['metadata']['name']}"
    assert {read for read in reads.seen if read[0] == "kubernetes:apps/v1:DaemonSet"} == {
        ("kubernetes:apps/v1:DaemonSet", daemon_set)
    }
