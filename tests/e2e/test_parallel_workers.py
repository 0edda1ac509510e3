"""`make e2e` runs its scenarios on parallel pytest-xdist workers: what keeps two scenarios running at
once apart (addresses, ports), and the summary the controller prints once for all of them."""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e import cluster
from tests.e2e.cluster import MAX_NODES, MAX_WORKERS, free_port, node_address, node_pod_cidr

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def addresses_of(worker: str | None, monkeypatch) -> tuple[set, list]:
    """The node addresses and pod networks of a largest cluster on ``worker`` (None: outside xdist)."""
    if worker is None:
        monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    else:
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    numbers = range(1, MAX_NODES + 1)
    nodes = {ipaddress.ip_address(node_address(n)) for n in numbers}
    pods = [ipaddress.ip_network(node_pod_cidr(n)) for n in numbers]
    return nodes, pods


def blocks_of(nodes: set, pods: list) -> tuple[set[int], set[int]]:
    """The /24 blocks the node addresses fall in, and the pod CIDRs (all /24s) as blocks."""
    assert all(p.prefixlen == 24 for p in pods)
    return {int(a) >> 8 for a in nodes}, {int(p.network_address) >> 8 for p in pods}


def test_every_worker_has_loopback_addresses_no_other_worker_uses(monkeypatch):
    assert MAX_NODES >= 200, "the 200-node scenario must fit"
    other_nodes: set = set()
    other_node_blocks: set[int] = set()
    other_pod_blocks: set[int] = set()
    for index in range(MAX_WORKERS):
        nodes, pods = addresses_of(f"gw{index}", monkeypatch)
        node_blocks, pod_blocks = blocks_of(nodes, pods)
        assert len(nodes) == MAX_NODES and len(pod_blocks) == MAX_NODES
        assert all(a in LOOPBACK and a != ipaddress.ip_address("127.0.0.1") for a in nodes)
        assert all(p.subnet_of(LOOPBACK) for p in pods)
        assert not node_blocks & pod_blocks, "a node address inside a pod CIDR"
        assert not nodes & other_nodes, f"gw{index} shares node addresses with another worker"
        assert not pod_blocks & other_pod_blocks, f"gw{index} shares pod CIDRs with another worker"
        assert not node_blocks & other_pod_blocks and not pod_blocks & other_node_blocks, (
            f"a node address of gw{index} inside another worker's pod CIDR, or the reverse"
        )
        other_nodes |= nodes
        other_node_blocks |= node_blocks
        other_pod_blocks |= pod_blocks


def test_a_serial_run_uses_the_first_workers_addresses(monkeypatch):
    assert addresses_of(None, monkeypatch) == addresses_of("gw0", monkeypatch)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert node_address(1) == "127.10.0.2" and node_pod_cidr(1) == "127.20.1.0/24"


def test_beyond_the_address_blocks_is_refused_with_the_limit(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{MAX_WORKERS}")
    with pytest.raises(RuntimeError, match=f"at most {MAX_WORKERS} parallel workers"):
        node_address(1)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    with pytest.raises(ValueError, match=f"nodes 1 to {MAX_NODES}"):
        node_pod_cidr(MAX_NODES + 1)


def test_ports_come_from_the_workers_own_range_below_the_ephemeral_one(monkeypatch):
    ranges = []
    for index in range(MAX_WORKERS):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{index}")
        first = cluster.FIRST_PORT + cluster.PORTS_PER_WORKER * index
        port = free_port()
        assert first <= port < first + cluster.PORTS_PER_WORKER
        ranges.append(range(first, first + cluster.PORTS_PER_WORKER))
    assert all(a[-1] < b[0] for a, b in itertools.pairwise(ranges))
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range")
    if ephemeral.exists():
        low = int(ephemeral.read_text().split()[0])
        assert ranges[-1][-1] < low, f"worker ports reach the ephemeral range (from {low})"


def test_a_port_in_use_is_skipped(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    monkeypatch.setattr(cluster, "_port_offsets", iter(range(cluster.PORTS_PER_WORKER)))
    with socket.socket() as taken:
        # The port the worker hands out next, held here (or by a server of this session already).
        with contextlib.suppress(OSError):
            taken.bind(("127.0.0.1", cluster.FIRST_PORT))
        port = free_port()
    assert cluster.FIRST_PORT < port < cluster.FIRST_PORT + cluster.PORTS_PER_WORKER


SCENARIOS = """
import os

import pytest

from tests.e2e.measurements import FIGURES, TIMINGS


@pytest.mark.parametrize("number", range({count}))
def test_scenario(number):
    FIGURES.append(f"{name} {{number}} on {{os.environ['PYTEST_XDIST_WORKER']}}")
    TIMINGS.append((f"{name} {{number}}", "up", float(number)))
"""


def test_the_controller_prints_every_workers_figures_once(tmp_path):
    """Scenarios on two workers report figures and Pulumi timings; the summary holds each once, and the
    component-package scenarios ran on one worker."""
    (tmp_path / "conftest.py").write_text("from tests.e2e.conftest import *  # noqa: F403\n")
    (tmp_path / "test_spread.py").write_text(SCENARIOS.format(count=4, name="spread"))
    (tmp_path / "test_component_package.py").write_text(SCENARIOS.format(count=3, name="package"))
    # Not this run's worker: a controller of its own.
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cloudcoil", "-p", "no:cacheprovider", "-n", "2",
         str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    figures = [line.removeprefix("e2e figure: ") for line in output.splitlines() if line.startswith("e2e figure: ")]
    assert sorted(f.rsplit(" on ", 1)[0] for f in figures) == [
        *(f"package {n}" for n in range(3)),
        *(f"spread {n}" for n in range(4)),
    ], output
    assert len({f.rsplit(" on ", 1)[1] for f in figures if f.startswith("package")}) == 1, figures
    assert len({f.rsplit(" on ", 1)[1] for f in figures}) == 2, f"one worker ran everything: {figures}"
    summary = [line for line in output.splitlines() if line.startswith("e2e: ")]
    assert summary == ["e2e: 7 scenarios passed, 0 failed; pulumi up 7 runs, mean 1.3 s max 3.0 s"], output
