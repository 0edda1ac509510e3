"""The plan (builders.plan) is the one place that decides what a stack creates: the program on the mock engine
creates exactly the objects, patches and calicoctl patches the plan lists, and reads exactly its CRDs."""

import json

import pytest

from builders.plan import plan_stack
from configuration import parse_settings
from tools.evaluator.mock_engine import evaluate

BASE = {"kubernetes:context": "c", "calico-monitoring:datastore": {"type": "kubernetes"}}
PREFIX = "calico-monitoring:"
CREATED_KINDS = ("PodMonitor", "ServiceMonitor", "Service", "PrometheusRule", "ConfigMap")
CALICOCTL_PATCH = "pulumi-python:dynamic/calico-monitoring:CalicoctlPatch"

CONFIGS = {
    "defaults": {},
    "typha": {"typha": {"enabled": True}},
    "service-scrape": {"felix": {"scrape": "service"}, "typha": {"enabled": True}},
    "operator": {"install": "operator", "typha": {"enabled": True}},
    "operator-no-typha": {"install": "operator", "typha": {"enabled": False}},
    "no-kube-controllers": {"kubeControllers": {"enabled": False}, "alerts": {"enabled": False}},
    "monitors-off": {
        "felix": {"monitor": {"enabled": False}},
        "kubeControllers": {"monitor": {"enabled": False}},
    },
    "felix-monitor-off": {"felix": {"monitor": {"enabled": False}}, "dashboards": {"enabled": False}},
    "canal": {"calicoNode": {"daemonSet": "canal", "container": "calico-node", "portName": "felix-metrics"}},
}


def identity(manifest):
    metadata = manifest["metadata"]
    return (manifest.get("kind"), metadata.get("namespace"), metadata["name"])


def what_the_program_creates(config):
    evaluation = evaluate({**BASE, **{PREFIX + k: v for k, v in config.items()}})
    created, patches, calicoctl = set(), set(), set()
    for registration in evaluation.registrations:
        kind = registration.type.split(":")[-1]
        inputs = registration.plain_inputs
        if registration.type.startswith("kubernetes:") and kind in CREATED_KINDS:
            created.add((kind, inputs["metadata"].get("namespace"), inputs["metadata"]["name"]))
        elif registration.type.startswith("kubernetes:") and kind.endswith("Patch"):
            patches.add((kind.removesuffix("Patch"), inputs["metadata"].get("namespace"), inputs["metadata"]["name"]))
        elif registration.type == CALICOCTL_PATCH:
            calicoctl.add((inputs["kind"], json.dumps(inputs["patch"], sort_keys=True)))
    crds = {id_ for type_, _, id_ in evaluation.reads if type_.endswith(":CustomResourceDefinition")}
    return created, patches, calicoctl, crds


def what_the_plan_lists(config):
    plan = plan_stack(parse_settings({**BASE, **{PREFIX + k: v for k, v in config.items()}}))
    created = {identity(manifest) for manifest, _ in plan.objects_created()}
    patches = {(p.patch.target[1], p.patch.object.namespace, p.patch.object.name) for p in plan.components if p.patch}
    calicoctl = {
        (p.calicoctl.kind, json.dumps(p.calicoctl.patch, sort_keys=True)) for p in plan.components if p.calicoctl
    }
    return created, patches, calicoctl, set(plan.crds)


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_the_program_creates_exactly_what_the_plan_lists(config):
    assert what_the_program_creates(config) == what_the_plan_lists(config)
