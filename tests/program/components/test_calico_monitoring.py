"""CalicoMonitoring's stack outputs on the mock engine: each one comes from its own resource."""

from __future__ import annotations

import pytest

from tests.program.components.test_verification import TARGETS, target
from tests.support.prometheus_stub import StubPrometheus
from tools.evaluator.mock_engine import evaluate

KDD = {"kubernetes:context": "c", "calico-monitoring:datastore": {"type": "kubernetes"}}
CALICOCTL_PATCH = "pulumi-python:dynamic/calico-monitoring:CalicoctlPatch"

# What each calicoctl step read back, told apart by every field.
FELIX_APPLIED = {"spec": {"prometheusMetricsEnabled": True, "prometheusMetricsPort": 9091}}
KUBE_CONTROLLERS_APPLIED = {"spec": {"prometheusMetricsPort": 9094}}


def cluster(args):
    """The mock engine's answers: each calicoctl step its own read-back, calico-node mid-rollout."""
    if args.typ == CALICOCTL_PATCH:
        return {
            "felixConfiguration": {"applied": FELIX_APPLIED},
            "kubeControllersConfiguration": {"applied": KUBE_CONTROLLERS_APPLIED},
        }[args.inputs["kind"]]
    if args.typ == "kubernetes:apps/v1:DaemonSet":
        return {
            "metadata": {"generation": 4},
            "status": {"observedGeneration": 4, "desiredNumberScheduled": 2, "updatedNumberScheduled": 1},
        }
    if args.typ == "kubernetes:apps/v1:Deployment":
        return {"spec": {"replicas": 1}}
    return {}


@pytest.fixture
def prometheus():
    server = StubPrometheus()
    server.answer(
        TARGETS,
        {"activeTargets": [*[target("monitoring/felix")] * 2, target("monitoring/calico-kube-controllers")]},
    )
    yield server
    server.close()


def test_each_stack_output_comes_from_its_own_resource(prometheus):
    config = {**KDD, "calico-monitoring:verify": {"prometheusUrl": prometheus.url}}
    evaluation = evaluate(config, outputs=cluster)
    assert evaluation.stack_outputs == {
        "felixMetrics": {"spec": {"prometheusMetricsEnabled": True, "prometheusMetricsPort": 9091}},
        "kubeControllersMetrics": {"spec": {"prometheusMetricsPort": 9094}},
        "scrapeJobs": {"felix": "monitoring/felix", "kube-controllers": "monitoring/calico-kube-controllers"},
        "calicoNodeRollout": {
            "generation": 4,
            "observedGeneration": 4,
            "desiredNumberScheduled": 2,
            "updatedNumberScheduled": 1,
            "complete": False,
        },
        # Felix's expected count is calico-node's desiredNumberScheduled above.
        "scrapeTargets": {
            "monitoring/felix": {"up": 2, "expected": 2},
            "monitoring/calico-kube-controllers": {"up": 1, "expected": 1},
        },
    }
