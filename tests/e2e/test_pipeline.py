"""The seed's whole pipeline on simulated nodes: calicoctl patch -> the real Felix listens -> the
operator turns the program's monitors into scrape jobs -> Prometheus scrapes the pods.

Every scenario runs KWOK nodes with kube-scheduler, so the calico-node DaemonSet and the
Deployments have real Pods; for each of Calico's pods the real Felix, Typha or kube-controllers
runs in the pod's network namespace at the pod's address (tests/e2e/calico_processes.py), except
at 200 nodes, where the stand-ins serve on loopback addresses (tests/e2e/calico_standins.py;
tests/e2e/test_real_calico.py holds them to the real Felix's behaviour). prometheus-operator and
Prometheus, both built from their Go modules, generate and run the configuration. Nothing is served
to Prometheus directly: it finds its targets through Kubernetes service discovery.
"""

from __future__ import annotations

import json
import time

import pytest
import yaml

from tests.e2e.cluster import calico_manifests
from tests.e2e.conftest import wait_for_calico_workloads
from tests.e2e.measurements import FIGURES, TIMINGS
from tests.e2e.prometheus_pipeline import active_targets
from tests.e2e.simulation import PodUidWatch, daemonset_settled, wait_for
from tests.e2e.test_manifest_install import example_config
from tests.e2e.test_stacks import install_operator_crds
from tests.integration.dashboards.test_panels_on_fixtures import (
    BUILTIN_VALUES,
    DASHBOARD_COMPONENT,
    classify,
    expectations,
    queries,
    query_key,
)
from tests.support.grafana import substitute, unresolved_variables
from tests.support.prometheus_harness import PrometheusError

pytestmark = pytest.mark.e2e

FELIX_JOB = "monitoring/felix"
TYPHA_JOB = "monitoring/calico-typha"
CONTROLLERS_JOB = "monitoring/calico-kube-controllers"
# The expositions captured from the same real processes (make fixtures): every panel with data on these has data
# on the live processes too.
SERVED = {"felix": "felix-iptables-quiet", "typha": "typha-quiet", "kube-controllers": "kube-controllers-quiet"}


# What the real processes do after the first `up`, which an alert may hold pending (never firing) for a while: `up`
# restarts Typha (its metrics settings), so every Felix connects to the new Typha and resyncs once, as it does on a
# FelixConfiguration change; CalicoFelixResyncsWidespread waits 15 minutes for that to go on before it fires.
AFTER_UP = {"CalicoFelixResyncsWidespread"}


def misses_data(seen: str, captured: str) -> bool:
    """Whether a panel lacks data (or fails) on the live processes where it has data on the captured exposition.
    Zero and value count alike, and a panel empty on the capture may show data live: rates, counts and summary
    quantiles depend on what the cluster did (the live Felixes restarted on each configuration change the scenario
    made, and Typha sent them snapshots; the captured ones had settled). The integration tests hold each panel to
    its exact class on the captured expositions."""
    if seen.startswith("error"):
        return True
    return captured in ("zero", "value") and seen not in ("zero", "value")


JOBS = {"felix": FELIX_JOB, "typha": TYPHA_JOB, "kube-controllers": CONTROLLERS_JOB}


def pipeline_config(*, interval: str = "2s", typha: bool = False, scrape: str = "pod") -> dict:
    config = example_config("example-kdd")
    config["calico-monitoring:podMonitor"] = {**config["calico-monitoring:podMonitor"], "interval": interval}
    config["calico-monitoring:typha"] = {"enabled": typha}
    config["calico-monitoring:felix"] = {"scrape": scrape}
    # Short `for`s, so the alert a person would get is seen firing within the scenario.
    config["calico-monitoring:alerts"] = {
        "overrides": {"CalicoFelixDownWidespread": {"for": "10s"}, "CalicoFelixDown": {"for": "10s"}}
    }
    return config


def seconds(duration: str) -> float:
    return float(duration.removesuffix("s"))


def targets_of(prometheus, job: str) -> list[dict]:
    return active_targets(prometheus.url, job)


def up_series(prometheus, job: str) -> dict[str, dict]:
    """The `up` series of a job by pod, with their labels and value."""
    return {r["metric"].get("pod", ""): r for r in prometheus.query(f'up{{job="{job}"}}')}


def all_up(prometheus, job: str, count: int) -> bool:
    series = up_series(prometheus, job)
    return len(series) == count and all(r["value"][1] == "1" for r in series.values())


def calico_pods(cluster, app: str, namespace: str = "kube-system") -> dict[str, str]:
    """pod name -> node name of the Running pods of one Calico workload."""
    pods = cluster.api_client().get(f"/api/v1/namespaces/{namespace}/pods?labelSelector=k8s-app%3D{app}")["items"]
    return {p["metadata"]["name"]: p["spec"]["nodeName"] for p in pods if not p["metadata"].get("deletionTimestamp")}


def last_command_seconds(scenario_command: str) -> float:
    return next(t for _, command, t in reversed(TIMINGS) if command == scenario_command)


def felix_listeners(pipeline) -> list[dict]:
    return [x for x in pipeline.listeners() if x["component"] == "felix"]


def firing(prometheus, alert: str) -> list[dict]:
    return [
        a
        for a in prometheus._get("/api/v1/alerts")["alerts"]
        if a["labels"]["alertname"] == alert and a["state"] == "firing"
    ]


RESTARTS = "`pulumi up` adds"
SERVICE_SCRAPE = "`pulumi config set --path calico-monitoring:felix.scrape service`"


def first_up_restarts(nodes: int) -> list[str]:
    """What the preview of the first `up` says each patch restarts, on Calico's own manifests (calico-typha.yaml:
    calico-node maxUnavailable 1, calico-typha 1 replica with maxSurge 100%, kube-controllers Recreate)."""
    return [
        f"{RESTARTS} Felix's metrics port to DaemonSet kube-system/calico-node: its {nodes} pods restart, 1 at a time "
        f"(maxUnavailable 1), in {nodes} rounds that each wait for the new pod to be ready; `pulumi destroy` removes "
        "it and restarts them again. To leave DaemonSet kube-system/calico-node alone, scrape through a Service "
        f"instead: {SERVICE_SCRAPE}.",
        f"{RESTARTS} Typha's metrics settings to Deployment kube-system/calico-typha: its pod restarts (maxSurge "
        "100%, maxUnavailable 1); `pulumi destroy` removes them and restarts it again. Typha reads its metrics "
        "settings only when it starts, so no scrape mode avoids this.",
        f"{RESTARTS} calico-kube-controllers' metrics port to Deployment kube-system/calico-kube-controllers: its pod "
        "stops, then a new one starts (strategy Recreate); `pulumi destroy` removes it and restarts it again. To "
        "leave Deployment kube-system/calico-kube-controllers alone, scrape through a Service instead: "
        f"{SERVICE_SCRAPE}.",
    ]


def test_pod_scrape_on_simulated_nodes_end_to_end(make_cluster, make_stack, make_pipeline):
    nodes, interval = 5, "2s"
    cluster = make_cluster(nodes=nodes, typha=True, real_calico=True)
    pipeline = make_pipeline(cluster)
    prometheus = pipeline.prometheus
    api = cluster.api_client()
    watch = PodUidWatch(api, "kube-system", "k8s-app=calico-node")
    assert felix_listeners(pipeline) == [], "Felix metrics were on before the program ran"
    stack = make_stack(cluster, pipeline_config(interval=interval, typha=True))

    # Before anything changes, the preview says what the first `up` restarts, read from the live workloads.
    previewed = stack.preview().stdout
    for message in first_up_restarts(nodes):
        assert f"warning: {message}" in previewed, previewed
    stack.up()
    rollout_seconds = wait_for(
        "the calico-node rollout", lambda: daemonset_settled(api, "kube-system", "calico-node", nodes), 300
    )
    wait_for_calico_workloads(cluster, typha=True)
    pipeline.monitoring.wait_for_jobs(
        [f"podMonitor/{FELIX_JOB}/", f"podMonitor/{TYPHA_JOB}/", f"podMonitor/{CONTROLLERS_JOB}/"]
    )
    # Service discovery picks the pods up at once: KWOK reports a pod Ready as soon as it runs, while the real
    # calico-node's start-up and Felix take seconds (its readiness probe would hold the pod back until then).
    wait_for("Felix targets discovered", lambda: len(targets_of(prometheus, FELIX_JOB)) == nodes, 60)
    up_within = wait_for("every Felix target up", lambda: all_up(prometheus, FELIX_JOB, nodes), 30)
    wait_for(
        "kube-controllers and Typha up",
        lambda: all_up(prometheus, CONTROLLERS_JOB, 1) and all_up(prometheus, TYPHA_JOB, 1),
        30,
    )
    assert watch.rollouts() == {f"node-{n:03d}": 1 for n in range(1, nodes + 1)}, (
        "the first up must roll every calico-node pod exactly once"
    )

    felix_pods = calico_pods(cluster, "calico-node")
    for pod, series in up_series(prometheus, FELIX_JOB).items():
        labels = series["metric"]
        assert pod in felix_pods and labels["node"] == felix_pods[pod], labels
        assert labels["namespace"] == "kube-system" and labels["endpoint"] == "http-metrics", labels
    [controllers] = up_series(prometheus, CONTROLLERS_JOB).values()
    assert controllers["metric"]["pod"] in calico_pods(cluster, "calico-kube-controllers")
    [typha] = up_series(prometheus, TYPHA_JOB).values()
    typha_pods = calico_pods(cluster, "calico-typha")
    assert typha_pods[typha["metric"]["pod"]] == typha["metric"]["node"]

    check_dashboards_rules_and_alerts(cluster, prometheus, seconds(interval))

    watch.mark()
    stack.up("--expect-no-changes")
    time.sleep(2 * seconds(interval))
    assert set(watch.rollouts().values()) == {0}, "a re-run must not roll calico-node"
    quiet = stack.preview("--expect-no-changes").stdout
    assert RESTARTS not in quiet, f"a re-run restarts nothing, yet its preview says so:\n{quiet}"

    # Someone turns metrics off by hand: targets go down, the breadth alert fires; `up` repairs it.
    cluster.calicoctl("patch", "felixConfiguration", "default", "-p", '{"spec":{"prometheusMetricsEnabled":false}}')
    turned_off = time.monotonic()
    wait_for(
        "Felix targets down", lambda: all(r["value"][1] == "0" for r in up_series(prometheus, FELIX_JOB).values()), 30
    )
    wait_for("CalicoFelixDownWidespread firing", lambda: firing(prometheus, "CalicoFelixDownWidespread"), 60)
    alert_seconds = time.monotonic() - turned_off
    stack.up()
    wait_for("Felix targets back up", lambda: all_up(prometheus, FELIX_JOB, nodes), 30)
    wait_for("CalicoFelixDownWidespread resolved", lambda: not firing(prometheus, "CalicoFelixDownWidespread"), 60)
    assert set(watch.rollouts().values()) == {0}, "turning metrics back on must not roll calico-node"

    stack.destroy()
    wait_for(
        "the destroy's calico-node rollout", lambda: daemonset_settled(api, "kube-system", "calico-node", nodes), 300
    )
    destroy_rollouts = set(watch.rollouts().values())
    assert destroy_rollouts == {1}, f"destroy removes the port: one more rollout, saw {destroy_rollouts}"
    wait_for("Felix scrape job gone", lambda: not targets_of(prometheus, FELIX_JOB), 60)
    felix_after = cluster.calico_resource("felixConfiguration")["spec"]
    wait_for(
        f"Felix metrics off after destroy (FelixConfiguration {felix_after})", lambda: not felix_listeners(pipeline), 10
    )
    watch.stop()
    FIGURES.append(
        f"pipeline {nodes} nodes (pod scrape): calico-node rollouts first up 1, re-run 0, repair 0, destroy 1; "
        f"rollout {rollout_seconds:.1f} s; all Felix targets up {up_within:.1f} s after discovery; "
        f"CalicoFelixDownWidespread firing {alert_seconds:.0f} s after metrics were turned off by hand (for: 10s)"
    )


# Rates over 5 minutes, as Grafana's $__rate_interval is on a dashboard showing a day: over 15 s (the fixtures'
# value) a panel's data depends on the moment. A quiet Felix may apply nothing for a minute, and a mean over
# no applies is empty.
LIVE_VALUES = {**BUILTIN_VALUES, "__rate_interval": "5m"}


def check_dashboards_rules_and_alerts(cluster, prometheus, interval: float) -> None:
    """Every panel, recording rule and alert of the PrometheusRule, on data scraped through the operator's jobs."""
    # Enough scrapes for every rate window the panels use.
    wait_for(
        "8 scrapes of every target",
        lambda: (
            min(float(r["value"][1]) for r in prometheus.query('count_over_time(up{job=~"monitoring/.*"}[5m])')) >= 8
        ),
        30 * interval,
    )
    rule = cluster.get("prometheusrule", "calico", "monitoring")
    defined = {(r.get("record") or r.get("alert")) for g in rule["spec"]["groups"] for r in g["rules"]}

    def loaded() -> dict[str, dict]:
        groups = prometheus._get("/api/v1/rules")["groups"]
        return {r["name"]: r for g in groups for r in g["rules"]}

    wait_for("the PrometheusRule loaded through the operator", lambda: defined <= set(loaded()), 60)
    wait_for(
        "every rule evaluated",
        lambda: all(
            r.get("lastEvaluation", "").startswith("2") and not r["lastEvaluation"].startswith("0001")
            for r in loaded().values()
        ),
        30,
    )
    rules = loaded()
    unhealthy = [f"{name}: {r['health']} {r.get('lastError', '')}" for name, r in rules.items() if r["health"] != "ok"]
    assert not unhealthy, unhealthy
    active = {name: r["state"] for name, r in rules.items() if r.get("type") == "alerting" and r["state"] != "inactive"}
    unexplained = {name: state for name, state in active.items() if name not in AFTER_UP or state == "firing"}
    assert unexplained == {}, f"alerts pending or firing on a quiet cluster: {unexplained}"
    recorded = [name for name, r in rules.items() if r.get("type") == "recording"]
    missing = [name for name in recorded if not prometheus.query(name)]
    assert not missing, f"recording rules without a series: {missing}"

    table, problems, checked = expectations(), [], 0
    now = time.time()
    every_query = queries()
    for query in every_query:
        component = DASHBOARD_COMPONENT[query.dashboard]
        row = table[query.dashboard][query_key(query)]
        expected = row.get(SERVED[component], row.get("all"))
        expr = substitute(query.expr, {"job": JOBS[component], "node": ".*", "ippool": ".*", **LIVE_VALUES})
        assert not unresolved_variables(expr), expr
        try:
            seen = classify(prometheus.query(expr, at=now))
        except PrometheusError as error:
            seen = f"error {error}"
        checked += 1
        if misses_data(seen, expected):
            problems.append(f"{query}: shows {seen}, on the captured exposition {expected}")
    assert checked == len(every_query) and {q.dashboard for q in every_query} == set(DASHBOARD_COMPONENT)
    assert not problems, "\n".join(problems)


def every_target_up_through_service_monitors(pipeline, cluster, nodes: int, namespace: str) -> float:
    """Waits until Felix on every node, Typha and kube-controllers are scraped through their ServiceMonitors'
    jobs, and checks their labels are those of the pod scrape (so dashboards and alerts need nothing else);
    returns the seconds until every Felix target was up."""
    prometheus = pipeline.prometheus
    pipeline.monitoring.wait_for_jobs(
        [f"serviceMonitor/{FELIX_JOB}/", f"serviceMonitor/{TYPHA_JOB}/", f"serviceMonitor/{CONTROLLERS_JOB}/"]
    )
    up_seconds = wait_for("every Felix target up", lambda: all_up(prometheus, FELIX_JOB, nodes), 90)
    wait_for(
        "Typha (restarted with its metrics on) and kube-controllers up",
        lambda: all_up(prometheus, TYPHA_JOB, 1) and all_up(prometheus, CONTROLLERS_JOB, 1),
        120,
    )
    felix_pods = calico_pods(cluster, "calico-node", namespace)
    for pod, series in up_series(prometheus, FELIX_JOB).items():
        labels = series["metric"]
        assert pod in felix_pods and labels["node"] == felix_pods[pod], labels
        assert labels["namespace"] == namespace and labels["job"] == FELIX_JOB, labels
    [typha] = up_series(prometheus, TYPHA_JOB).values()
    assert calico_pods(cluster, "calico-typha", namespace)[typha["metric"]["pod"]] == typha["metric"]["node"]
    [controllers] = up_series(prometheus, CONTROLLERS_JOB).values()
    assert controllers["metric"]["pod"] in calico_pods(cluster, "calico-kube-controllers", namespace)
    return up_seconds


def test_service_scrape_rolls_nothing_and_scrapes_through_service_monitors(make_cluster, make_stack, make_pipeline):
    nodes, interval = 3, "2s"
    cluster = make_cluster(nodes=nodes, typha=True, real_calico=True)
    pipeline = make_pipeline(cluster)
    prometheus = pipeline.prometheus
    api = cluster.api_client()
    watch = PodUidWatch(api, "kube-system", "k8s-app=calico-node")
    generation = cluster.get("daemonset", "calico-node", "kube-system")["metadata"]["generation"]
    stack = make_stack(cluster, pipeline_config(interval=interval, typha=True, scrape="service"))
    stack.up()
    # Felix follows the calicoctl patch on every node without any pod being replaced; Prometheus finds the
    # pods through the Services' EndpointSlices and scrapes them on their own addresses.
    up_seconds = every_target_up_through_service_monitors(pipeline, cluster, nodes, "kube-system")
    assert cluster.get("daemonset", "calico-node", "kube-system")["metadata"]["generation"] == generation
    assert set(watch.rollouts().values()) == {0}
    check_dashboards_rules_and_alerts(cluster, prometheus, seconds(interval))
    stack.destroy()
    wait_for("Felix scrape job gone", lambda: not targets_of(prometheus, FELIX_JOB), 60)
    assert set(watch.rollouts().values()) == {0}
    watch.stop()
    FIGURES.append(
        f"pipeline {nodes} nodes (service scrape, real Felix): calico-node rollouts up 0, destroy 0; every Felix "
        f"target up {up_seconds:.1f} s after up"
    )


def test_operator_install_rolls_no_calico_node_pod(make_cluster, make_stack):
    """Under the Tigera operator the program changes no workload: its calico-node pods are never replaced."""
    nodes = 3
    cluster = make_cluster(nodes=nodes)
    install_operator_crds(cluster)
    cluster.kubectl("create", "namespace", "calico-system")
    installation = {"apiVersion": "operator.tigera.io/v1", "kind": "Installation", "metadata": {"name": "default"}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps({**installation, "spec": {"variant": "Calico"}}))
    # The calico-node DaemonSet the operator runs in calico-system: Calico's own, in that namespace.
    manifest = yaml.safe_load_all((calico_manifests() / "calico.yaml").read_text())
    daemon_set = next(d for d in manifest if d and d["kind"] == "DaemonSet")
    daemon_set["metadata"]["namespace"] = "calico-system"
    cluster.kubectl("apply", "-f", "-", input=json.dumps(daemon_set))
    api = cluster.api_client()
    wait_for("calico-system/calico-node", lambda: daemonset_settled(api, "calico-system", "calico-node", nodes), 120)
    watch = PodUidWatch(api, "calico-system", "k8s-app=calico-node")
    stack = make_stack(cluster, example_config("example-operator"))
    # What the operator restarts instead: Typha, once the Installation asks for its metrics.
    typha_rollout = (
        "warning: `pulumi up` sets typhaMetricsPort 9093 on Installation default: the Tigera operator then turns "
        "Typha's metrics on in Deployment calico-system/calico-typha, which restarts its pods at the pace the "
        "operator sets; `pulumi destroy` removes it and the operator restarts them again. Typha reads its metrics "
        "settings only when it starts, so no scrape mode avoids this."
    )
    previewed = stack.preview().stdout
    assert typha_rollout in previewed, previewed
    assert RESTARTS not in previewed.replace(typha_rollout, ""), previewed
    stack.up()
    assert "typhaMetricsPort" not in stack.preview().stdout  # the Installation has it now: nothing to restart
    time.sleep(5)  # long enough for a rollout to have started, were there one
    assert daemonset_settled(api, "calico-system", "calico-node", nodes)
    assert set(watch.rollouts().values()) == {0}
    stack.destroy()
    time.sleep(5)
    assert set(watch.rollouts().values()) == {0}
    watch.stop()
    FIGURES.append(f"operator install, {nodes} nodes: calico-node rollouts up 0, destroy 0")


def test_rollouts_and_targets_at_200_nodes(make_cluster, make_stack, make_pipeline):
    nodes, interval = 200, "10s"
    started = time.monotonic()
    cluster = make_cluster(nodes=nodes)
    setup_seconds = time.monotonic() - started
    pipeline = make_pipeline(cluster)
    api = cluster.api_client()
    watch = PodUidWatch(api, "kube-system", "k8s-app=calico-node")
    stack = make_stack(cluster, pipeline_config(interval=interval))
    stack.up()
    up_seconds = last_command_seconds("up")
    rollout_seconds = wait_for(
        "the calico-node rollout", lambda: daemonset_settled(api, "kube-system", "calico-node", nodes), 1200, interval=2
    )
    assert set(watch.rollouts().values()) == {1} and len(watch.rollouts()) == nodes
    pipeline.monitoring.wait_for_jobs([f"podMonitor/{FELIX_JOB}/"])
    targets_seconds = wait_for(
        f"{nodes} Felix targets up", lambda: all_up(pipeline.prometheus, FELIX_JOB, nodes), 120, interval=2
    )
    watch.mark()
    stack.destroy()
    destroy_seconds = last_command_seconds("destroy")
    watch.stop()
    FIGURES.append(
        f"pipeline {nodes} nodes: cluster with calico-node Running in {setup_seconds:.0f} s; "
        f"pulumi up {up_seconds:.1f} s; calico-node rollout {rollout_seconds:.0f} s, 1 per node; "
        f"{nodes} Felix targets up {targets_seconds:.0f} s after; "
        f"pulumi destroy {destroy_seconds:.1f} s"
    )
