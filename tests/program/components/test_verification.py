"""`calico-monitoring:verify` on Pulumi's mock engine: off by default, a `scrapeTargets` output
during `up`, no request in preview, and a failed `up` naming every job without its targets."""

import runpy
import time

import pulumi
import pytest
from pulumi import RunError

from tests.support.prometheus_stub import StubPrometheus
from tools.evaluator.mock_engine import ROOT, Evaluation, evaluate

KDD = {"kubernetes:context": "c", "calico-monitoring:datastore": {"type": "kubernetes"}}
TARGETS = "/api/v1/targets?state=active"
CONFIG = "/api/v1/status/config"
VERIFICATION = "calico-monitoring:index:ScrapeVerification"
PODMONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"


def target(job, health="up", last_error=""):
    return {"labels": {"instance": "10.0.0.11:9091", "job": job}, "health": health, "lastError": last_error}


class Cluster:
    """What the reads of the mock engine find: calico-node's scheduled pods, Deployments' replicas."""

    def __init__(self, scheduled=3, replicas=None, monitor_seconds=0.0):
        self.scheduled = scheduled
        self.replicas = replicas or {}
        self.monitor_seconds = monitor_seconds  # how long creating a PodMonitor takes
        self.reads = []

    def __call__(self, args):
        if args.resource_id:
            self.reads.append((args.typ, args.resource_id))
        elif args.typ == PODMONITOR:
            time.sleep(self.monitor_seconds)
        if args.typ == "kubernetes:apps/v1:DaemonSet":
            status = {"observedGeneration": 2, "desiredNumberScheduled": self.scheduled, "updatedNumberScheduled": 1}
            return {"metadata": {"generation": 2}, "status": status}
        if args.typ == "kubernetes:apps/v1:Deployment":
            return {"spec": {"replicas": self.replicas.get(args.resource_id, 1)}}
        return {}


def registered(evaluation, leave_out=()):
    """Type, name and inputs of every registration; their order is up to the engine's scheduling."""
    return sorted(
        ((r.type, r.name, repr(r.inputs)) for r in evaluation.registrations if r.type not in leave_out),
    )


def workload_reads(cluster):
    return sorted(read for read in cluster.reads if read[0].startswith("kubernetes:apps/"))


@pytest.fixture
def stub():
    server = StubPrometheus()
    yield server
    server.close()


def with_verify(stub, base=KDD, **verify):
    return {**base, "calico-monitoring:verify": {"prometheusUrl": stub.url, **verify}}


def test_unset_or_the_project_default_registers_and_outputs_nothing_new():
    unset = evaluate(KDD, outputs=Cluster())
    default = evaluate({**KDD, "calico-monitoring:verify": "{}"}, outputs=Cluster())
    assert not unset.by_type(VERIFICATION)
    assert "scrapeTargets" not in unset.stack_outputs
    assert registered(default) == registered(unset)
    assert default.stack_outputs == unset.stack_outputs


def test_up_reports_the_targets_of_each_job(stub):
    stub.answer(
        TARGETS, {"activeTargets": [*[target("monitoring/felix")] * 3, target("monitoring/calico-kube-controllers")]}
    )
    cluster = Cluster(scheduled=3)
    evaluation = evaluate(with_verify(stub), outputs=cluster)
    assert evaluation.stack_outputs["scrapeTargets"] == {
        "monitoring/felix": {"up": 3, "expected": 3},
        "monitoring/calico-kube-controllers": {"up": 1, "expected": 1},
    }
    assert stub.requests == [TARGETS]
    # Felix's count is the DaemonSet read after the port patch; kube-controllers' is its Deployment.
    assert workload_reads(cluster) == [
        ("kubernetes:apps/v1:DaemonSet", "kube-system/calico-node"),  # calicoNodeRollout's read
        ("kubernetes:apps/v1:DaemonSet", "kube-system/calico-node"),  # the prerequisites' read
        ("kubernetes:apps/v1:Deployment", "kube-system/calico-kube-controllers"),
        # kube-controllers' Deployment as it is before its port patch: what the preview says adding the port restarts.
        ("kubernetes:apps/v1:Deployment", "kube-system/calico-kube-controllers"),
    ]
    # Everything else is as without verify.
    without = evaluate(KDD, outputs=Cluster(scheduled=3))
    assert {k: v for k, v in evaluation.stack_outputs.items() if k != "scrapeTargets"} == without.stack_outputs
    assert registered(evaluation, leave_out=[VERIFICATION]) == registered(without)
    assert evaluation.by_urn(evaluation.one(VERIFICATION).parent).name == "calico-monitoring"


def test_service_scrape_and_operator_installs_read_the_workloads(stub):
    stub.answer(
        TARGETS,
        {
            "activeTargets": [
                *[target("monitoring/felix")] * 4,
                *[target("monitoring/calico-typha")] * 2,
                target("monitoring/calico-kube-controllers"),
            ]
        },
    )
    cluster = Cluster(scheduled=4, replicas={"calico-system/calico-typha": 2})
    evaluation = evaluate(with_verify(stub, {**KDD, "calico-monitoring:install": "operator"}), outputs=cluster)
    assert evaluation.stack_outputs["scrapeTargets"] == {
        "monitoring/felix": {"up": 4, "expected": 4},
        "monitoring/calico-typha": {"up": 2, "expected": 2},
        "monitoring/calico-kube-controllers": {"up": 1, "expected": 1},
    }
    assert ("kubernetes:apps/v1:DaemonSet", "calico-system/calico-node") in cluster.reads
    assert ("kubernetes:apps/v1:Deployment", "calico-system/calico-typha") in cluster.reads
    assert ("kubernetes:apps/v1:Deployment", "calico-system/calico-kube-controllers") in cluster.reads


def run_main_recording_scrape_targets(seen):
    def program():
        monitoring = runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")["monitoring"]
        monitoring.outputs["scrapeTargets"].apply(seen.append, run_with_unknowns=True)

    return program


def test_preview_sends_no_request_and_leaves_the_output_unknown(stub):
    stub.answer(
        TARGETS, {"activeTargets": [*[target("monitoring/felix")] * 3, target("monitoring/calico-kube-controllers")]}
    )
    seen = []
    evaluate(with_verify(stub), outputs=Cluster(), preview=True, program=run_main_recording_scrape_targets(seen))
    assert stub.requests == []
    assert seen == [pulumi.UNKNOWN]
    # The same program during `up` asks Prometheus.
    evaluate(with_verify(stub), outputs=Cluster(), program=run_main_recording_scrape_targets(seen))
    assert stub.requests == [TARGETS]
    assert seen[1] == {
        "monitoring/felix": {"up": 3, "expected": 3},
        "monitoring/calico-kube-controllers": {"up": 1, "expected": 1},
    }


def test_up_fails_after_the_timeout_naming_every_job_without_its_targets():
    evaluation = Evaluation()
    monitors_at_first_request = []

    def on_request(path):
        if not monitors_at_first_request:
            monitors_at_first_request.append(sorted(r.name for r in evaluation.by_type(PODMONITOR)))

    stub = StubPrometheus(on_request=on_request)
    try:
        stub.answer(TARGETS, {"activeTargets": [target("monitoring/felix", "down", "EOF")] * 3})
        stub.answer(CONFIG, {"yaml": "scrape_configs:\n- job_name: podMonitor/monitoring/felix/0\n"})
        with pytest.raises(RunError) as error:
            cluster = Cluster(scheduled=3, monitor_seconds=1.0)
            evaluate(with_verify(stub, timeoutSeconds=10), outputs=cluster, into=evaluation)
    finally:
        stub.close()
    assert str(error.value) == (
        f"calico-monitoring:verify: Prometheus at {stub.url} does not scrape every Calico target after 10 s:\n"
        "  - monitoring/felix: 0/3 up: 3 of 3 targets down (first lastError: EOF): metrics not enabled "
        "(FelixConfiguration prometheusMetricsEnabled) or the port is not reachable (metricsHost, host firewall)\n"
        "  - monitoring/calico-kube-controllers: 0/1 up: Prometheus does not select monitor "
        "monitoring/calico-kube-controllers: check its podMonitorSelector/serviceMonitorSelector "
        "(kube-prometheus-stack selects `release: <release>`; set podMonitor.labels) and namespace selectors"
    )
    assert monitors_at_first_request == [
        ["calico-monitoring-felix-monitor-podmonitor", "calico-monitoring-kube-controllers-podmonitor"]
    ]
    assert stub.requests[-1] == CONFIG and stub.requests.count(CONFIG) == 1
