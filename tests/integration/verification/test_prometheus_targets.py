"""Scrape verification's pure logic: Prometheus' answers classified per job, the poll, the messages.

The hand-made answers have the fields Prometheus 2.42 answered with (``active_target``); the last
tests run every supported Prometheus release and check those fields and the whole poll against it.
"""

import dataclasses
import socket
import time

import pytest
import yaml

from builders.plan import plan_stack
from configuration import parse_settings
from tests.support.prometheus_harness import FixtureMetrics, MetricsServer, Prometheus, Target, scrape_config
from tests.support.prometheus_stub import StubPrometheus
from verification.prometheus_api import PrometheusUnreadable, fetch_json
from verification.prometheus_targets import (
    CONFIG_PATH,
    TARGETS_PATH,
    classify,
    expected_jobs,
    wait_for_targets,
)

KDD = {"kubernetes:context": "prod", "calico-monitoring:datastore": {"type": "kubernetes"}}
URL = "http://prometheus-operated.monitoring:9090"
FELIX = "monitoring/felix"
KUBE_CONTROLLERS = "monitoring/calico-kube-controllers"
TYPHA = "monitoring/calico-typha"
REFUSED = 'Get "http://10.0.0.12:9091/metrics": dial tcp 10.0.0.12:9091: connect: connection refused'


def plan(**config):
    """The plan of a stack with these settings (verify reads its expected jobs from the plan)."""
    return plan_stack(settings(**config))


def settings(**config):
    return parse_settings({**KDD, **{f"calico-monitoring:{key}": value for key, value in config.items()}})


def active_target(job, health="up", last_error="", address="10.0.0.11:9091", pool=None):
    """One entry of `activeTargets` as Prometheus 2.42 answers it for a prometheus-operator job."""
    pool = pool or f"podMonitor/{job}/0"
    return {
        "discoveredLabels": {
            "__address__": address,
            "__meta_kubernetes_namespace": "kube-system",
            "__metrics_path__": "/metrics",
            "__scheme__": "http",
            "__scrape_interval__": "15s",
            "__scrape_timeout__": "10s",
            "job": pool,
        },
        "labels": {"endpoint": "http-metrics", "instance": address, "job": job, "namespace": "kube-system"},
        "scrapePool": pool,
        "scrapeUrl": f"http://{address}/metrics",
        "globalUrl": f"http://{address}/metrics",
        "lastError": last_error,
        "lastScrape": "0001-01-01T00:00:00Z" if health == "unknown" else "2026-12-01T19:59:40.277746571Z",
        "lastScrapeDuration": 0 if health == "unknown" else 0.003051115,
        "health": health,
        "scrapeInterval": "15s",
        "scrapeTimeout": "10s",
    }


def targets_data(*targets):
    return {"activeTargets": list(targets), "droppedTargets": []}


def config_data(*job_names):
    """The data of /api/v1/status/config: the loaded configuration as one YAML text."""
    document = {
        "global": {"scrape_interval": "30s", "scrape_timeout": "10s", "evaluation_interval": "30s"},
        "scrape_configs": [
            {"job_name": name, "honor_timestamps": True, "metrics_path": "/metrics", "scheme": "http"}
            for name in job_names
        ],
    }
    return {"yaml": yaml.safe_dump(document, sort_keys=False)}


def kdd_jobs(felix=3, kube_controllers=1):
    return expected_jobs(plan(), {"felix": felix, "kube-controllers": kube_controllers})


def lines(results):
    return {r.job.job: r.line() for r in results}


# --------------------------------------------------------------------------- expected jobs


def test_jobs_follow_the_monitors_the_stack_creates():
    pod = kdd_jobs()
    assert [(j.job, j.monitor_kind, j.expected, j.scrape_config_prefix) for j in pod] == [
        (FELIX, "podMonitor", 3, "podMonitor/monitoring/felix/"),
        (KUBE_CONTROLLERS, "podMonitor", 1, "podMonitor/monitoring/calico-kube-controllers/"),
    ]
    service = expected_jobs(plan(felix={"scrape": "service"}), {"felix": 3, "kube-controllers": 1})
    assert [j.scrape_config_prefix for j in service] == [
        "serviceMonitor/monitoring/felix/",
        "serviceMonitor/monitoring/calico-kube-controllers/",
    ]
    operator = expected_jobs(plan(install="operator"), {"felix": 5, "typha": 2, "kube-controllers": 1})
    assert [(j.job, j.monitor_kind, j.workload, j.metrics_switch) for j in operator] == [
        (FELIX, "serviceMonitor", "calico-node", "FelixConfiguration prometheusMetricsEnabled"),
        (TYPHA, "serviceMonitor", "calico-typha", "Installation default typhaMetricsPort"),
        (
            KUBE_CONTROLLERS,
            "serviceMonitor",
            "calico-kube-controllers",
            "KubeControllersConfiguration prometheusMetricsPort",
        ),
    ]
    renamed = expected_jobs(
        plan(podMonitor={"name": "calico-felix", "namespace": "prom"}), {"felix": 1, "kube-controllers": 1}
    )
    assert renamed[0].job == "prom/calico-felix" and renamed[0].scrape_config_prefix == "podMonitor/prom/calico-felix/"


# --------------------------------------------------------------------------- classification


def test_every_job_with_its_targets_up_is_ok():
    data = targets_data(
        active_target(FELIX, address="10.0.0.11:9091"),
        active_target(FELIX, address="10.0.0.12:9091"),
        active_target(FELIX, address="10.0.0.13:9091"),
        active_target(KUBE_CONTROLLERS, address="10.244.1.7:9094"),
        # Another job's targets, down, count for nobody.
        active_target("monitoring/node-exporter", "down", "EOF"),
    )
    results = classify(kdd_jobs(), data)
    assert [(r.job.job, r.up, r.down, r.ok) for r in results] == [(FELIX, 3, 0, True), (KUBE_CONTROLLERS, 1, 0, True)]


def test_no_targets_and_no_scrape_config_means_prometheus_does_not_select_the_monitor():
    # Prometheus selects a PodMonitor of the same name in another namespace, and one whose name starts alike.
    config = config_data(
        "serviceMonitor/monitoring/kube-state-metrics/0", "podMonitor/other/felix/0", "podMonitor/monitoring/felix-2/0"
    )
    results = classify(kdd_jobs(), targets_data(active_target(KUBE_CONTROLLERS)), config)
    assert lines(results)[FELIX] == (
        "monitoring/felix: 0/3 up: Prometheus does not select monitor monitoring/felix: check its "
        "podMonitorSelector/serviceMonitorSelector (kube-prometheus-stack selects `release: <release>`; set "
        "podMonitor.labels) and namespace selectors"
    )
    assert results[1].ok


def test_no_targets_with_a_scrape_config_means_the_monitor_selects_no_pods():
    config = config_data("podMonitor/monitoring/felix/0", "podMonitor/monitoring/calico-kube-controllers/0")
    results = classify(kdd_jobs(), targets_data(), config)
    assert lines(results) == {
        FELIX: "monitoring/felix: 0/3 up: the monitor selects no pods: namespace, labels or port name "
        "(calicoNode.portName) do not match, or the port is not declared yet (calico-node rollout in progress)",
        KUBE_CONTROLLERS: "monitoring/calico-kube-controllers: 0/1 up: the monitor selects no pods: namespace, "
        "labels or port name (kubeControllers.portName) do not match, or the port is not declared yet "
        "(calico-kube-controllers rollout in progress)",
    }


def test_a_service_monitor_without_targets_has_a_service_without_endpoints():
    jobs = expected_jobs(plan(felix={"scrape": "service"}), {"felix": 3, "kube-controllers": 1})
    results = classify(jobs, targets_data(), config_data("serviceMonitor/monitoring/felix/0"))
    assert lines(results)[FELIX] == (
        "monitoring/felix: 0/3 up: the monitor selects no endpoints: its Service has no ready pods, or the "
        "Service's labels or port name do not match"
    )
    # A PodMonitor of the same name is not this ServiceMonitor's scrape config.
    results = classify(jobs, targets_data(), config_data("podMonitor/monitoring/felix/0"))
    assert results[0].selected is False


def test_targets_down_name_the_first_error_and_what_to_check():
    data = targets_data(
        active_target(FELIX, address="10.0.0.11:9091"),
        active_target(FELIX, "down", REFUSED, address="10.0.0.12:9091"),
        active_target(FELIX, "down", "context deadline exceeded", address="10.0.0.13:9091"),
    )
    assert lines(classify(kdd_jobs(), data))[FELIX] == (
        "monitoring/felix: 1/3 up: 2 of 3 targets down (first lastError: " + REFUSED + "): metrics not enabled "
        "(FelixConfiguration prometheusMetricsEnabled) or the port is not reachable (metricsHost, host firewall)"
    )
    data = targets_data(active_target(KUBE_CONTROLLERS, "down", "server returned HTTP status 404 Not Found"))
    assert lines(classify(kdd_jobs(), data))[KUBE_CONTROLLERS] == (
        "monitoring/calico-kube-controllers: 0/1 up: 1 of 1 targets down (first lastError: server returned HTTP "
        "status 404 Not Found): metrics not enabled (KubeControllersConfiguration prometheusMetricsPort) or the "
        "port is not reachable (network policy)"
    )


def test_typha_down_names_its_own_switch_per_install():
    down = targets_data(active_target(TYPHA, "down", "EOF"))
    manifest = expected_jobs(plan(typha={"enabled": True}), {"felix": 0, "typha": 1, "kube-controllers": 0})
    operator = expected_jobs(plan(install="operator"), {"felix": 0, "typha": 1, "kube-controllers": 0})
    assert "(TYPHA_PROMETHEUSMETRICSENABLED on the calico-typha Deployment)" in lines(classify(manifest, down))[TYPHA]
    assert "(Installation default typhaMetricsPort)" in lines(classify(operator, down))[TYPHA]


def test_fewer_targets_than_pods_and_none_down_says_so():
    data = targets_data(active_target(FELIX), active_target(FELIX, address="10.0.0.12:9091"))
    assert lines(classify(kdd_jobs(), data))[FELIX] == (
        "monitoring/felix: 2/3 up: fewer targets than expected and none down: a calico-node rollout in "
        "progress, pods not Running or not Ready, or Prometheus has not discovered them yet"
    )
    data = targets_data(active_target(FELIX), active_target(FELIX, "unknown", address="10.0.0.12:9091"))
    assert lines(classify(kdd_jobs(), data))[FELIX].startswith(
        "monitoring/felix: 1/3 up: fewer targets than expected and none down, 1 not scraped yet: "
    )


def test_more_targets_up_than_pods_is_not_ok():
    data = targets_data(active_target(KUBE_CONTROLLERS), active_target(KUBE_CONTROLLERS, address="10.244.2.9:9094"))
    result = classify(kdd_jobs(), data)[1]
    assert not result.ok
    assert result.line().startswith("monitoring/calico-kube-controllers: 2/1 up: more targets up than the 1 expected")


def test_no_expected_target_and_none_found_is_ok():
    assert all(r.ok for r in classify(kdd_jobs(felix=0, kube_controllers=0), targets_data()))


# --------------------------------------------------------------------------- the poll


class FakePrometheus:
    """``fetch`` for wait_for_targets on a fake clock: answers from lists, the last one repeated."""

    def __init__(self, targets, config=None):
        self.now = 0.0
        self.targets = list(targets)
        self.config = config
        self.calls = []  # (url, request timeout, time)
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def fetch(self, url, timeout):
        self.calls.append((url, timeout, self.now))
        self.now += 0.1  # the request takes a little time
        if url.endswith(CONFIG_PATH):
            answer = self.config
        else:
            answer = self.targets.pop(0) if len(self.targets) > 1 else self.targets[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def wait(self, jobs, timeout_seconds=180, url=URL):
        return wait_for_targets(url, jobs, timeout_seconds, fetch=self.fetch, clock=self.clock, sleep=self.sleep)


def test_the_poll_ends_as_soon_as_every_job_has_its_targets():
    starting = targets_data(active_target(FELIX, "unknown"))
    ready = targets_data(active_target(FELIX), active_target(KUBE_CONTROLLERS))
    fake = FakePrometheus([starting, starting, ready])
    verification = fake.wait(kdd_jobs(felix=1))
    assert verification.ok
    assert verification.summary == {FELIX: {"up": 1, "expected": 1}, KUBE_CONTROLLERS: {"up": 1, "expected": 1}}
    assert [url for url, _, _ in fake.calls] == [URL + "/api/v1/targets?state=active"] * 3
    assert fake.sleeps == [2.0, 2.0]


def test_the_poll_gives_up_after_the_timeout_with_every_failing_job_and_reads_the_config_once():
    stuck = targets_data(active_target(KUBE_CONTROLLERS, "down", "EOF"))
    fake = FakePrometheus([stuck], config=config_data("podMonitor/monitoring/calico-kube-controllers/0"))
    verification = fake.wait(kdd_jobs(), timeout_seconds=30, url=URL + "/")
    assert not verification.ok
    target_reads = [t for url, _, t in fake.calls if url == URL + "/api/v1/targets?state=active"]
    config_reads = [t for url, _, t in fake.calls if url == URL + "/api/v1/status/config"]
    assert len(config_reads) == 1 and config_reads[0] > target_reads[-1]
    assert all(t < 30 for _, _, t in fake.calls) and target_reads[-1] >= 30 - 2 - 0.2
    assert set(fake.sleeps) == {2.0}
    assert all(timeout <= 5 for _, timeout, _ in fake.calls)
    assert verification.message() == (
        "calico-monitoring:verify: Prometheus at http://prometheus-operated.monitoring:9090/ does not scrape "
        "every Calico target after 30 s:\n"
        "  - monitoring/felix: 0/3 up: Prometheus does not select monitor monitoring/felix: check its "
        "podMonitorSelector/serviceMonitorSelector (kube-prometheus-stack selects `release: <release>`; set "
        "podMonitor.labels) and namespace selectors\n"
        "  - monitoring/calico-kube-controllers: 0/1 up: 1 of 1 targets down (first lastError: EOF): metrics "
        "not enabled (KubeControllersConfiguration prometheusMetricsPort) or the port is not reachable "
        "(network policy)"
    )


def test_the_config_is_not_read_when_every_job_has_targets():
    fake = FakePrometheus([targets_data(active_target(FELIX, "down", "EOF"), active_target(KUBE_CONTROLLERS))])
    assert not fake.wait(kdd_jobs(felix=1), timeout_seconds=10).ok
    assert not [url for url, _, _ in fake.calls if url.endswith(CONFIG_PATH)]


def test_an_unreadable_config_leaves_both_causes_open():
    unreadable = PrometheusUnreadable(URL + CONFIG_PATH + ": HTTP 403: Forbidden")
    fake = FakePrometheus([targets_data(active_target(KUBE_CONTROLLERS))], config=unreadable)
    line = lines(fake.wait(kdd_jobs(), timeout_seconds=10).results)[FELIX]
    assert line == (
        "monitoring/felix: 0/3 up: no targets (the scrape configuration could not be read: "
        "http://prometheus-operated.monitoring:9090/api/v1/status/config: HTTP 403: Forbidden): either "
        "Prometheus does not select monitor monitoring/felix: check its podMonitorSelector/serviceMonitorSelector "
        "(kube-prometheus-stack selects `release: <release>`; set podMonitor.labels) and namespace selectors, or "
        "the monitor selects no pods: namespace, labels or port name (calicoNode.portName) do not match, or the "
        "port is not declared yet (calico-node rollout in progress)"
    )


def test_an_unreachable_prometheus_is_named_with_the_error():
    refused = PrometheusUnreadable(URL + TARGETS_PATH + ": [Errno 111] Connection refused")
    fake = FakePrometheus([refused])
    verification = fake.wait(kdd_jobs(), timeout_seconds=10)
    assert not verification.ok and verification.results == ()
    assert verification.message() == (
        "calico-monitoring:verify: cannot read Prometheus at http://prometheus-operated.monitoring:9090 (tried for "
        "10 s): http://prometheus-operated.monitoring:9090/api/v1/targets?state=active: [Errno 111] Connection "
        "refused"
    )
    assert len(fake.calls) > 1  # a Prometheus that is restarting gets the whole timeout


def test_the_last_answer_counts_when_prometheus_becomes_unreachable_late():
    ready = targets_data(active_target(KUBE_CONTROLLERS))
    fake = FakePrometheus([ready, PrometheusUnreadable("gone")], config=config_data())
    verification = fake.wait(kdd_jobs(), timeout_seconds=10)
    assert verification.error is None
    assert [r.up for r in verification.results] == [0, 1]


# --------------------------------------------------------------------------- HTTP


@pytest.fixture
def stub():
    server = StubPrometheus()
    yield server
    server.close()


def test_fetch_returns_the_data_of_a_successful_answer(stub):
    stub.answer(TARGETS_PATH, targets_data(active_target(FELIX)))
    assert fetch_json(stub.url + TARGETS_PATH, 5) == targets_data(active_target(FELIX))
    assert stub.requests == [TARGETS_PATH]


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ((404, "404 page not found\n"), ": HTTP 404: 404 page not found"),
        (
            (400, {"status": "error", "errorType": "bad_data", "error": 'invalid parameter "state"'}),
            ': HTTP 400: bad_data: invalid parameter "state"',
        ),
        ((200, "<!doctype html><title>Grafana</title>"), ": not a Prometheus API answer: b'<!doctype html>"),
        ((200, {"status": "error", "error": "overloaded"}), ": not a successful Prometheus API answer: overloaded"),
    ],
)
def test_fetch_names_the_url_and_what_came_back(stub, answer, error):
    stub.answers[TARGETS_PATH] = answer
    with pytest.raises(PrometheusUnreadable) as raised:
        fetch_json(stub.url + TARGETS_PATH, 5)
    assert str(raised.value).startswith(stub.url + TARGETS_PATH + error)


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_closed_port_is_reported_after_the_timeout():
    url = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    verification = wait_for_targets(url, kdd_jobs(), 1)
    assert time.monotonic() - started < 5
    assert verification.message().startswith(f"calico-monitoring:verify: cannot read Prometheus at {url} ")
    assert f"{url}/api/v1/targets?state=active: [Errno 111] Connection refused" in verification.message()


# --------------------------------------------------------------------------- a real Prometheus


FELIX_PODS = [
    Target(FELIX, "felix", "calico-node-7xk2p", "worker-1", "10.0.0.11", 9091, "calico-node"),
    Target(FELIX, "felix", "calico-node-m9q4d", "worker-2", "10.0.0.12", 9091, "calico-node"),
]
KUBE_CONTROLLERS_POD = Target(
    KUBE_CONTROLLERS,
    "kube-controllers",
    "calico-kube-controllers-57b9d-vw2km",
    "worker-1",
    "10.244.1.7",
    9094,
    "calico-kube-controllers",
    add_node_label=False,
)
STARTUP_BUDGET_SECONDS = 60


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory, prometheus_binary):
    """Felix's two pods up; kube-controllers' one pod on a closed port; a Typha monitor that
    Prometheus selects but that matches no pod (a scrape config without targets)."""
    workdir = tmp_path_factory.mktemp("prometheus-verify")
    server = MetricsServer(FixtureMetrics())
    instance = None
    try:
        config = scrape_config([*FELIX_PODS, KUBE_CONTROLLERS_POD], server.port)
        for scrape in config["scrape_configs"]:
            if scrape["job_name"] == f"podMonitor/{KUBE_CONTROLLERS}/0":
                scrape["static_configs"][0]["targets"] = [f"127.0.0.1:{closed_port()}"]
        config["scrape_configs"].append({"job_name": f"podMonitor/{TYPHA}/0", "static_configs": []})
        config_file = workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        deadline = time.monotonic() + STARTUP_BUDGET_SECONDS
        instance = Prometheus(prometheus_binary, config_file, workdir / "data", workdir / "prometheus.log")
        instance.wait_ready(deadline)
        instance.wait_for_samples(FELIX_PODS, 2, deadline)
        yield instance
    finally:
        if instance is not None:
            instance.stop()
        server.close()


def real_jobs():
    jobs = expected_jobs(plan(typha={"enabled": True}), {"felix": 2, "typha": 2, "kube-controllers": 1})
    # A monitor Prometheus has no scrape config for.
    return [*jobs, dataclasses.replace(jobs[0], job="monitoring/felix-canary", expected=1)]


def json_kind(value):
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    return "number" if isinstance(value, int | float) else type(value).__name__


def shape_problems(real, made, where):
    """Fields of the hand-made answer ``made`` that ``real`` lacks or has as another JSON type; fields only
    ``real`` has are fine (verification reads none of them)."""
    problems = [f"{where}: no {key!r}" for key in made if key not in real]
    problems += [
        f"{where}.{key}: {json_kind(real[key])}, the unit tests use {json_kind(made[key])}"
        for key in made
        if key in real and json_kind(real[key]) != json_kind(made[key])
    ]
    return problems


def test_real_answers_have_the_shape_the_unit_tests_use(prometheus):
    """Every field of the hand-made answers, with its JSON type, is in the real ones. Releases add fields (2.53 and
    3.16 answer with `droppedTargetCounts` too, which 2.42 did not send); verification reads only the hand-made ones."""
    targets = fetch_json(prometheus.url + TARGETS_PATH, 5)
    problems = shape_problems(targets, targets_data(), "data")
    assert targets["activeTargets"]
    for target in targets["activeTargets"]:
        pool = target.get("scrapePool", "?")
        problems += shape_problems(target, active_target(FELIX), f"activeTargets[{pool}]")
        problems += shape_problems(target.get("labels", {}), active_target(FELIX)["labels"], f"{pool}.labels")
        assert target.get("health") in ("up", "down", "unknown"), target
        assert pool.startswith("podMonitor/monitoring/")
    assert {t["labels"]["job"] for t in targets["activeTargets"]} == {FELIX, KUBE_CONTROLLERS}
    config = fetch_json(prometheus.url + CONFIG_PATH, 5)
    problems += shape_problems(config, config_data(), "config")
    assert not problems, "\n".join(problems)


def test_a_real_prometheus_with_every_target_up(prometheus):
    verification = wait_for_targets(prometheus.url, real_jobs()[:1], 30)
    assert verification.ok, verification.message()
    assert verification.summary == {FELIX: {"up": 2, "expected": 2}}


def test_a_real_prometheus_with_targets_down_missing_and_not_selected(prometheus):
    verification = wait_for_targets(prometheus.url, real_jobs(), 4)
    assert not verification.ok
    found = lines(verification.results)
    assert FELIX not in dict.fromkeys(r.job.job for r in verification.results if not r.ok)
    assert found[KUBE_CONTROLLERS].startswith(
        'monitoring/calico-kube-controllers: 0/1 up: 1 of 1 targets down (first lastError: Get "http://127.0.0.1:'
    )
    assert "connect: connection refused): metrics not enabled" in found[KUBE_CONTROLLERS]
    assert found[TYPHA].startswith("monitoring/calico-typha: 0/2 up: the monitor selects no pods: ")
    assert found["monitoring/felix-canary"].startswith(
        "monitoring/felix-canary: 0/1 up: Prometheus does not select monitor monitoring/felix-canary: "
    )
    assert verification.message().count("\n  - ") == 3
