"""The worker's parts that need no engine: which events it keeps, the error it reports, and `verify`."""

from pulumi.automation import OutputValue
from pulumi.automation.events import EngineEvent

from builders.plan import plan_stack
from configuration import parse_settings
from fleet.results import StackResult
from fleet.run_one import EventLog, error_text, verify
from tests.support.prometheus_stub import StubPrometheus
from verification.prometheus_targets import TARGETS_PATH

MONITOR = "urn:pulumi:s::calico-monitoring::kubernetes:monitoring.coreos.com/v1:PodMonitor::m"


def step_event(kind, op):
    metadata = {"op": op, "urn": MONITOR, "type": "kubernetes:monitoring.coreos.com/v1:PodMonitor", "provider": ""}
    return EngineEvent.from_json({"sequence": 1, "timestamp": 0, kind: {"metadata": metadata}})


def diagnostic(severity, message):
    return EngineEvent.from_json(
        {"sequence": 2, "timestamp": 0, "diagnosticEvent": {"message": message, "color": "never", "severity": severity}}
    )


def test_a_refresh_is_read_from_its_outcomes_and_other_operations_from_their_intents():
    refresh = EventLog(refresh=True)
    for event in (step_event("resourcePreEvent", "refresh"), step_event("resOutputsEvent", "delete")):
        refresh(event)
    assert [step.op for step in refresh.steps] == ["delete"]
    preview = EventLog(refresh=False)
    for event in (step_event("resourcePreEvent", "create"), step_event("resOutputsEvent", "create")):
        preview(event)
    assert [step.op for step in preview.steps] == ["create"]


def test_the_error_is_the_engines_own_diagnostics_each_said_once():
    log = EventLog(refresh=False)
    for event in (
        diagnostic("warning", "a warning\n"),
        diagnostic("error", "configured Kubernetes cluster is unreachable\n"),
        diagnostic("error", "configured Kubernetes cluster is unreachable\n"),
        diagnostic("error", "update failed\n"),
    ):
        log(event)
    assert error_text(RuntimeError("code: 255"), log) == "configured Kubernetes cluster is unreachable\nupdate failed"
    assert error_text(ValueError("bad"), None) == "ValueError: bad"


class Outputs:
    """A stack whose last `up` left these outputs."""

    def __init__(self, outputs):
        self._outputs = outputs

    def outputs(self):
        return {name: OutputValue(value, False) for name, value in self._outputs.items()}


def verified(prometheus_url, outputs):
    settings = parse_settings(
        {
            "kubernetes:context": "c",
            "calico-monitoring:datastore": {"type": "kubernetes"},
            "calico-monitoring:kubeControllers": {"enabled": False},
            "calico-monitoring:verify": {"prometheusUrl": prometheus_url},
        }
    )
    result = StackResult("s", "verify")
    verify(Outputs(outputs), plan_stack(settings), result, settings, seconds=1)
    return result


def target(job, health):
    return {"labels": {"job": job}, "health": health, "lastError": "" if health == "up" else "connection refused"}


def test_verify_reads_the_targets_up_now_against_what_the_last_up_expected():
    prometheus = StubPrometheus()
    try:
        prometheus.answer(TARGETS_PATH, {"activeTargets": [target("monitoring/felix", "up")] * 2})
        recorded = {"scrapeTargets": {"monitoring/felix": {"up": 2, "expected": 2}}}
        result = verified(prometheus.url, recorded)
        assert (result.targets, result.error) == ({"monitoring/felix": {"up": 2, "expected": 2}}, None)

        prometheus.answer(
            TARGETS_PATH, {"activeTargets": [target("monitoring/felix", "up"), target("monitoring/felix", "down")]}
        )
        result = verified(prometheus.url, recorded)
        assert result.targets == {"monitoring/felix": {"up": 1, "expected": 2}}
        assert result.error == "scrape targets missing: monitoring/felix 1/2 up"
    finally:
        prometheus.close()


def test_verify_needs_an_up_that_recorded_the_expected_targets_and_a_prometheus_it_can_read():
    assert verified("http://127.0.0.1:9", {}).error == (
        "no scrapeTargets output for monitoring/felix: run up (with verify set) first"
    )
    unreadable = verified("http://127.0.0.1:9", {"scrapeTargets": {"monitoring/felix": {"up": 2, "expected": 2}}})
    assert unreadable.error.startswith("calico-monitoring:verify: cannot read Prometheus at http://127.0.0.1:9")


def test_a_cli_failure_is_reported_by_what_the_cli_said_on_stderr():
    from pulumi.automation._cmd import CommandResult
    from pulumi.automation.errors import CommandError

    failure = CommandError(CommandResult(stdout="Previewing update\n", stderr="error: getwd: gone\n", code=1))
    assert error_text(failure, EventLog(refresh=True)) == "error: getwd: gone"
