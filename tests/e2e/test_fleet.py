"""`make fleet` over three real clusters and one out of reach: up, drift by hand found (and only it), up repairs it;
the wall time of `preview` serially and in parallel, and per added stack (printed as e2e figures)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cluster import free_port, versions
from tests.e2e.conftest import ROOT, Cluster, Stack, prepare_stack, start_cluster, stop_all
from tests.e2e.measurements import FIGURES, TIMINGS
from tests.e2e.test_manifest_install import example_config

pytestmark = pytest.mark.e2e

STACKS = ("east", "west", "north")
RESTARTS = ["DaemonSet kube-system/calico-node", "Deployment kube-system/calico-kube-controllers"]


def fleet(stack: Stack, *args: str, scenario: str) -> tuple[int, dict[str, Any], str]:
    """`python -m fleet ... --json` in the project folder, as a user runs it (`make fleet` runs the same)."""
    env = {**stack.env, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "fleet", *args, "--json"],
        cwd=stack.project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    seconds = time.monotonic() - started
    TIMINGS.append((scenario, f"fleet {args[0]}", seconds))
    stack.log.append(
        f"$ python -m fleet {' '.join(args)} --json  ({seconds:.1f} s, exit {done.returncode})\n{done.stderr}"
    )
    try:
        document = json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"fleet {' '.join(args)} wrote no JSON document:\n{done.stdout}\n{done.stderr}") from None
    return done.returncode, document, done.stderr


def rows(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["stack"]: row for row in document["stacks"]}


def out_of_reach(cluster: Cluster, folder: Path) -> Path:
    """The cluster's kubeconfig with its API server moved to a loopback port nothing listens on."""
    config = json.loads(cluster.kubeconfig.read_text())
    for entry in config["clusters"]:
        if entry["name"] == cluster.api.name:
            entry["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    path = folder / "kubeconfig-unreachable"
    path.write_text(json.dumps(config))
    return path


def timed_preview(stack: Stack, names: tuple[str, ...], parallel: int, scenario: str) -> float:
    started = time.monotonic()
    status, document, _ = fleet(
        stack, "preview", "--stacks", " ".join(names), "--parallel", str(parallel), "--expect-no-changes",
        scenario=scenario,
    )  # fmt: skip
    assert status == 0, document
    return time.monotonic() - started


def test_fleet_up_drift_and_repair_over_three_clusters_with_one_out_of_reach(
    binaries, pki, etcd, decoy, pulumi_home, tmp_path, request
):
    scenario = request.node.name
    started: list = []
    try:
        clusters = {}
        for name in STACKS:
            folder = tmp_path / name
            folder.mkdir()
            clusters[name] = start_cluster(binaries, pki, etcd, folder, started, decoy=decoy)
        fleet_folder = tmp_path / "fleet"
        fleet_folder.mkdir()
        config = example_config("example-kdd")
        stacks = {
            name: prepare_stack(binaries, pulumi_home, fleet_folder, cluster, config, name, scenario)
            for name, cluster in clusters.items()
        }
        runner = stacks["east"]
        request.node.stash_stack = runner
        unreachable = out_of_reach(clusters["east"], fleet_folder)
        prepare_stack(binaries, pulumi_home, fleet_folder, clusters["east"], config, "gone", scenario)
        gone_file = runner.project / "Pulumi.gone.yaml"
        gone_file.write_text(gone_file.read_text().replace(str(clusters["east"].kubeconfig), str(unreachable)))

        # Every stack at once: the three clusters get everything, the one out of reach fails alone.
        status, document, progress = fleet(runner, "up", "--parallel", "4", scenario=scenario)
        assert status == 1, document
        found = rows(document)
        assert sorted(found) == ["east", "gone", "north", "west"]
        for name in STACKS:
            row = found[name]
            assert row["error"] is None, row
            assert row["cluster"] == clusters[name].api.url
            assert row["calicoctl_version"] == versions()["CALICO_VERSION"], row
            # ClusterInformation has no calicoVersion until calico-node starts, which it does not here.
            assert row["calico_version"] == "unknown", row
            assert row["changes"]["create"] > 0 and set(row["changes"]) == {"create"}, row
            assert row["restarts"] == RESTARTS, row
        gone = found["gone"]
        assert gone["error"] and ("connection refused" in gone["error"] or "unreachable" in gone["error"]), gone
        assert gone["cluster"].startswith("https://127.0.0.1:") and gone["cluster"] != clusters["east"].api.url
        assert "FAILED" in progress and progress.count("] ") >= 4, progress
        os.remove(gone_file)  # the cluster is gone for good; its stack file goes with it

        # Nothing to change now; how long a preview of the fleet takes, one stack, three one by one, three at once.
        one = timed_preview(runner, STACKS[:1], 1, scenario)
        serial = timed_preview(runner, STACKS, 1, scenario)
        parallel = timed_preview(runner, STACKS, 3, scenario)
        FIGURES.append(
            f"fleet preview on {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}): 1 stack {one:.1f} s; "
            f"3 stacks serially {serial:.1f} s "
            f"(+{(serial - one) / 2:.1f} s per added stack), with PARALLEL=3 {parallel:.1f} s "
            f"(+{(parallel - one) / 2:.1f} s per added stack)"
        )

        # By hand: Felix's metrics off in east, the PodMonitor deleted in west. Drift names those two, and only them.
        clusters["east"].calicoctl(
            "patch", "felixConfiguration", "default", "--patch", '{"spec": {"prometheusMetricsEnabled": false}}'
        )
        clusters["west"].kubectl("delete", "podmonitor", "felix", "-n", "monitoring")
        status, document, _ = fleet(runner, "drift", "--expect-no-changes", scenario=scenario)
        assert status == 2, document
        found = rows(document)
        assert {name: found[name]["drift"] for name in STACKS} == {
            "east": [
                {"resource": "FelixConfiguration default", "op": "update", "fields": ["spec.prometheusMetricsEnabled"]}
            ],
            "west": [{"resource": "PodMonitor monitoring/felix", "op": "delete", "fields": []}],
            "north": [],
        }
        assert all(found[name]["error"] is None for name in STACKS), document

        # up (which refreshes first) puts both back, restarting nothing; then no drift is left.
        status, document, _ = fleet(runner, "up", scenario=scenario)
        assert status == 0, document
        found = rows(document)
        assert found["east"]["changes"] == {"update": 1}, found["east"]
        assert found["west"]["changes"] == {"create": 1}, found["west"]
        assert found["north"]["changes"] == {}, found["north"]
        assert all(found[name]["restarts"] == [] for name in STACKS), document
        felix = clusters["east"].calico_resource("felixConfiguration")
        assert felix["spec"]["prometheusMetricsEnabled"] is True
        assert clusters["west"].get("podmonitor", "felix", "monitoring") is not None
        status, document, _ = fleet(runner, "drift", "--expect-no-changes", scenario=scenario)
        assert status == 0, document
        assert all(row["drift"] == [] for row in document["stacks"]), document
    finally:
        stop_all(started)
