"""One stack's fleet result: the changes, the pods they restart (from the stack's plan), drift, exit status."""

import pytest
from pulumi.automation.events import OpType

from builders.plan import plan_stack
from configuration import parse_settings
from fleet.results import (
    Drifted,
    StackResult,
    change_counts,
    drift_counts,
    drifted,
    exit_status,
    restarted_workloads,
    targets_error,
)
from fleet.steps import Step

BASE = {"kubernetes:context": "c", "calico-monitoring:datastore": {"type": "kubernetes"}}


def plan(**config):
    return plan_stack(parse_settings({**BASE, **{f"calico-monitoring:{k}": v for k, v in config.items()}}))


def patch_step(op, kind, namespace, name):
    what = f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
    return Step(f"urn:{kind}:{name}", f"kubernetes:x/v1:{kind}Patch", op, what, (), (kind, namespace, name))


def test_a_changed_patch_restarts_the_workload_the_plan_names_and_an_unchanged_one_nothing():
    manifest = plan(typha={"enabled": True})
    steps = [
        patch_step("update", "DaemonSet", "kube-system", "calico-node"),
        patch_step("same", "Deployment", "kube-system", "calico-typha"),
        patch_step("create", "Deployment", "kube-system", "calico-kube-controllers"),
        Step("urn:monitor", "kubernetes:monitoring.coreos.com/v1:PodMonitor", "create", "PodMonitor m/felix", ()),
    ]
    assert restarted_workloads(manifest, steps) == [
        "DaemonSet kube-system/calico-node",
        "Deployment kube-system/calico-kube-controllers",
    ]


def test_the_operators_installation_patch_restarts_typha_which_the_operator_rolls():
    manifest = plan(install="operator", typha={"enabled": True})
    steps = [patch_step("create", "Installation", None, "default")]
    assert restarted_workloads(manifest, steps) == ["Deployment calico-system/calico-typha"]


def test_a_replacement_counts_once_and_a_patch_the_plan_no_longer_has_names_what_it_patched():
    manifest = plan(typha={"enabled": False})
    steps = [
        patch_step("create-replacement", "DaemonSet", "kube-system", "calico-node"),
        patch_step("replace", "DaemonSet", "kube-system", "calico-node"),
        patch_step("delete-replaced", "DaemonSet", "kube-system", "calico-node"),
        patch_step("delete", "Deployment", "kube-system", "calico-typha"),
    ]
    assert restarted_workloads(manifest, steps) == [
        "DaemonSet kube-system/calico-node",
        "Deployment kube-system/calico-typha",
    ]


def test_drift_is_what_a_refresh_would_change_or_drop_but_not_what_the_program_only_reads():
    steps = [
        Step("urn:felix", "t", "update", "FelixConfiguration default", ("spec.prometheusMetricsEnabled",)),
        Step("urn:monitor", "t", "delete", "PodMonitor monitoring/felix", ()),
        Step("urn:daemonset-read", "t", "update", "DaemonSet kube-system/calico-node", ("status",)),
        Step("urn:rule", "t", "same", "PrometheusRule monitoring/calico", ()),
    ]
    found = drifted(steps, reads=["urn:daemonset-read"])
    assert found == [
        Drifted("FelixConfiguration default", "update", ("spec.prometheusMetricsEnabled",)),
        Drifted("PodMonitor monitoring/felix", "delete"),
    ]
    assert [str(d) for d in found] == [
        "FelixConfiguration default: spec.prometheusMetricsEnabled",
        "PodMonitor monitoring/felix deleted",
    ]
    assert drift_counts(found) == {"update": 1, "delete": 1}


def test_change_counts_keep_the_kinds_that_change_something():
    summary = {OpType.SAME: 14, OpType.CREATE: 2, OpType.UPDATE: 1, OpType.READ: 3, "replace": 0}
    assert change_counts(summary) == {"create": 2, "update": 1}
    assert change_counts(None) == {}


def test_targets_error_names_every_job_short_of_its_targets():
    assert targets_error({"monitoring/felix": {"up": 3, "expected": 3}}) is None
    assert targets_error(
        {"monitoring/felix": {"up": 1, "expected": 3}, "monitoring/typha": {"up": 0, "expected": 2}}
    ) == ("scrape targets missing: monitoring/felix 1/3 up; monitoring/typha 0/2 up")


@pytest.mark.parametrize(
    ("results", "expect_no_changes", "status"),
    [
        ([StackResult("a", "preview"), StackResult("b", "preview")], True, 0),
        ([StackResult("a", "preview", changes={"update": 1})], False, 0),
        ([StackResult("a", "preview", changes={"update": 1})], True, 2),
        ([StackResult("a", "drift", drift=[Drifted("PodMonitor m/f", "delete")])], True, 2),
        ([StackResult("a", "preview", changes={"update": 1}), StackResult("b", "preview", error="x")], True, 1),
        ([StackResult("a", "drift", error="unreachable")], False, 1),
    ],
)
def test_exit_status(results, expect_no_changes, status):
    assert exit_status(results, expect_no_changes) == status


def test_a_result_crosses_the_process_boundary_unchanged():
    result = StackResult(
        "prod",
        "drift",
        cluster="https://10.0.0.1:6443",
        calico_version="v3.31.0",
        calicoctl_version="v3.31.0",
        changes={"update": 1},
        restarts=["DaemonSet kube-system/calico-node"],
        drift=[Drifted("FelixConfiguration default", "update", ("spec.prometheusMetricsEnabled",))],
        targets={"monitoring/felix": {"up": 3, "expected": 3}},
        error=None,
        seconds=4.2,
    )
    document = result.to_json()
    assert document["drift"] == [
        {"resource": "FelixConfiguration default", "op": "update", "fields": ["spec.prometheusMetricsEnabled"]}
    ]
    assert StackResult.from_json(document) == result
