"""The real Felix, Typha and kube-controllers run for Calico's pods, follow their configuration as calico-node
does, and leave nothing behind; and the stand-ins, which the 200-node scenario keeps, do what they do.

For each configuration change below, what really serves /metrics (read from the real processes' sockets,
tests/e2e/calico_processes.py) must equal what the stand-ins would serve on the same live configuration
and pods (calico_standins.desired_listeners): the stand-ins are held to the real Felix's behaviour.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from tests.e2e.calico_processes import PodRun
from tests.e2e.calico_standins import FELIX_CONFIGURATION, KUBE_CONTROLLERS_CONFIGURATION, desired_listeners
from tests.e2e.calico_workloads import Workload
from tests.e2e.cluster import address_slot
from tests.e2e.conftest import runs_calico, start_pipeline, stop_all
from tests.e2e.measurements import FIGURES
from tests.e2e.netns_relay import listen_in
from tests.e2e.pod_network import PodNetwork, node_address, node_pod_cidr
from tests.e2e.real_calico_env import STOP_SECONDS, network_namespace
from tests.e2e.simulation import wait_for

pytestmark = pytest.mark.e2e


def stand_in_listeners(cluster) -> list[dict]:
    api = cluster.api_client()
    pods = api.get("/api/v1/pods?labelSelector=k8s-app%20in%20(calico-node%2Ccalico-typha%2Ccalico-kube-controllers)")
    wanted = desired_listeners(api.get(FELIX_CONFIGURATION), api.get(KUBE_CONTROLLERS_CONFIGURATION), pods["items"])
    return sorted((vars(x) for x in wanted), key=lambda x: (x["component"], x["pod"], x["port"]))


def real_and_stand_in_agree(pipeline, cluster, expected_count: int | None = None) -> bool:
    real = pipeline.listeners()
    return (expected_count is None or len(real) == expected_count) and real == stand_in_listeners(cluster)


def felix_exits(pipeline) -> int:
    return sum(len(p["exits"]) for p in pipeline.processes() if p["component"] == "felix")


WILDCARD = ("0.0.0.0", "::")  # Go listens on a dual-stack socket for 0.0.0.0


def every_felix(pipeline, nodes: int, listens_on: tuple[tuple[str, ...] | None, int] | None, not_on: int) -> bool:
    """Each Felix runs and listens on ``listens_on`` (on one of its addresses; on any when they are None), and
    not on port ``not_on``."""
    felixes = [p for p in pipeline.processes() if p["component"] == "felix" and p["pid"]]
    if len(felixes) != nodes:
        return False
    for felix in felixes:
        sockets = {tuple(x) for x in felix["listening"]}
        if any(port == not_on for _, port in sockets):
            return False
        if listens_on is not None:
            hosts, port = listens_on
            if not any(p == port and (hosts is None or a in hosts) for a, p in sockets):
                return False
    return True


def test_real_processes_follow_their_configuration_like_the_stand_ins_and_leave_nothing(
    make_cluster, binaries, tmp_path
):
    nodes = 3
    cluster = make_cluster(nodes=nodes, typha=True, real_calico=True)
    started: list = []
    pipeline = start_pipeline(binaries, cluster, tmp_path, started)
    try:
        # A process per Calico pod, in its pod's network namespace: calico-node and Typha share their node's.
        wait_for(
            "a running process for each Calico pod",
            lambda: (
                sorted(p["component"] for p in pipeline.processes() if p["pid"])
                == ["felix"] * nodes + ["kube-controllers", "typha"]
            ),
            60,
        )
        processes = pipeline.processes()
        felix_namespaces = {p["node"]: p["netns"] for p in processes if p["component"] == "felix"}
        typha = next(p for p in processes if p["component"] == "typha")
        assert felix_namespaces[typha["node"]] == typha["netns"], "Typha is host-network: its node's namespace"
        controllers = next(p for p in processes if p["component"] == "kube-controllers")
        assert controllers["netns"] not in felix_namespaces.values()
        # The seeded configuration: Felix's metrics off, kube-controllers' port unset.
        wait_for("the stand-ins agreeing on the seeded configuration", lambda: real_and_stand_in_agree(
            pipeline, cluster), 60)  # fmt: skip
        controllers_listening = len(pipeline.listeners())

        # (what, the patch, the socket each Felix then listens on, a port it must not, listeners reachable)
        steps = [
            ("metrics on (port 9095 seeded)", {"prometheusMetricsEnabled": True}, (None, 9095), 0, nodes),
            ("port 9191", {"prometheusMetricsPort": 9191}, (None, 9191), 9095, nodes),
            ("metrics bound to 127.0.0.1", {"prometheusMetricsHost": "127.0.0.1"}, (("127.0.0.1",), 9191), 0, 0),
            ("bound to every address", {"prometheusMetricsHost": "0.0.0.0"}, (WILDCARD, 9191), 0, nodes),
            ("metrics off", {"prometheusMetricsEnabled": False}, None, 9191, 0),
        ]
        seen = []
        for what, spec, listens_on, not_on, felix_count in steps:
            exits_before = felix_exits(pipeline)
            cluster.calicoctl("patch", "felixConfiguration", "default", "-p", json.dumps({"spec": spec}))
            # Felix applies none of these live: each Felix exits (129) and its supervisor starts it again.
            took = wait_for(
                f"{what}: every Felix restarted", lambda b=exits_before: felix_exits(pipeline) >= b + nodes, 60
            )
            wait_for(f"{what}: every Felix running, on {listens_on}", lambda o=listens_on, n=not_on: every_felix(
                pipeline, nodes, o, n), 60)  # fmt: skip
            wait_for(f"{what}: real and stand-in listeners agree", lambda c=felix_count: real_and_stand_in_agree(
                pipeline, cluster, c + controllers_listening), 30)  # fmt: skip
            seen.append(f"{what}: Felix restarted {took:.1f} s after the patch")
        exit_codes = {code for p in pipeline.processes() if p["component"] == "felix" for code in p["exits"]}
        assert exit_codes == {129}, f"Felix exit codes on configuration changes: {exit_codes}"

        port = json.dumps({"spec": {"prometheusMetricsPort": 9094}})
        cluster.calicoctl("patch", "kubeControllersConfiguration", "default", "-p", port)
        wait_for("kube-controllers serving on 9094", lambda: real_and_stand_in_agree(pipeline, cluster, 1), 60)
        closed = json.dumps({"spec": {"prometheusMetricsPort": 0}})
        cluster.calicoctl("patch", "kubeControllersConfiguration", "default", "-p", closed)
        wait_for("kube-controllers' metrics closed", lambda: real_and_stand_in_agree(pipeline, cluster, 0), 60)
        pids = [p["pid"] for p in pipeline.processes() if p["pid"]]
        namespaces = {p["netns"] for p in pipeline.processes()}
    finally:
        stop_all(started)
    # Stopping the supervisor checked its own account (CalicoProcessesRun.stop); this checks the machine's.
    assert [pid for pid in pids if runs_calico(pid)] == []
    assert not [n for n in namespaces if os.path.exists(f"/run/netns/{n}")]
    assert PodNetwork(address_slot()).leftovers() == []
    FIGURES.append(f"real Calico, {nodes} nodes: listeners matched the stand-ins after " + "; ".join(seen))


def test_a_pod_deleted_during_its_start_up_leaves_no_process(tmp_path: Path) -> None:
    """A start-up command that never ends (`calico-node -startup` waiting for an API server it cannot reach) is
    ended with its pod, well within the stop time, and the pod's services never start."""
    with network_namespace("cm-podrun-stop") as netns:
        workload = Workload(
            component="felix", pod="calico-node-hangs", node="node-0", address="127.0.0.1",
            services=(("felix", ("sleep", "600")),), env={"PATH": os.environ["PATH"]}, folder=tmp_path,
            init=(("sleep", "600"),),
        )  # fmt: skip
        run = PodRun(workload, netns, tmp_path)
        wait_for(
            "the start-up command running", lambda: run.init_pids and Path(f"/proc/{run.init_pids[0]}").exists(), 10
        )
        started = time.monotonic()
        run.stop()
        took = time.monotonic() - started
        alive = [pid for pid in run.pids() if Path(f"/proc/{pid}").exists()]
        assert alive == [], f"still running after the pod's stop: {alive}"
        assert run.services == {}, "the services started although the pod went during its start-up"
        assert took < STOP_SECONDS, f"the stop took {took:.1f} s, as long as waiting the start-up out"


def test_a_pod_at_the_address_of_the_pod_it_replaces_is_reachable_at_once() -> None:
    """calico-kube-controllers' rollout (strategy Recreate) gives the new pod the old one's address: the new pod's
    namespace answers at once, not after the host's neighbour entry for the old one went stale."""
    network = PodNetwork(address_slot())
    address = node_pod_cidr(1, network.slot).replace(".0/24", ".7")
    network.create()
    try:
        # A node on the bridge throughout, as in a cluster: a bridge left without ports would lose its carrier,
        # and with it every neighbour entry.
        network.add_namespace("reuse-node", node_address(1, network.slot))
        for key in ("old", "new"):
            namespace = network.add_namespace(f"reuse-{key}", address)
            # Connecting leaves the host a neighbour entry for this namespace's eth0.
            with listen_in(f"/run/netns/{namespace}", address, 9094), socket.create_connection((address, 9094), 3):
                pass
            network.remove_namespace(namespace)
    finally:
        network.remove()
    assert network.leftovers() == []
