"""`make e2e` runs its scenarios on parallel pytest-xdist workers: what keeps two scenarios running at
once apart (addresses, ports), and the summary the controller prints once for all of them."""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import itertools
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e import cluster
from tests.e2e.cluster import MAX_NODES, MAX_SLOTS, address_slot, free_port, node_address, node_pod_cidr, port_range

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def blocks(slot: int) -> tuple[set, set[int], set[int]]:
    """A largest cluster's node addresses in ``slot``, the /24 blocks they fall in, and its pod CIDRs as /24 blocks."""
    numbers = range(1, MAX_NODES + 1)
    nodes = {ipaddress.ip_address(node_address(n, slot)) for n in numbers}
    pods = [ipaddress.ip_network(node_pod_cidr(n, slot)) for n in numbers]
    assert all(a in LOOPBACK and a != ipaddress.ip_address("127.0.0.1") for a in nodes)
    assert all(p.subnet_of(LOOPBACK) and p.prefixlen == 24 for p in pods)
    return nodes, {int(a) >> 8 for a in nodes}, {int(p.network_address) >> 8 for p in pods}


def test_every_slot_has_loopback_addresses_no_other_slot_uses():
    assert MAX_NODES >= 200, "the 200-node scenario must fit"
    other_nodes: set = set()
    other_node_blocks: set[int] = set()
    other_pod_blocks: set[int] = set()
    for slot in range(MAX_SLOTS):
        nodes, node_blocks, pod_blocks = blocks(slot)
        assert len(nodes) == MAX_NODES and len(pod_blocks) == MAX_NODES
        assert not node_blocks & pod_blocks, "a node address inside a pod CIDR"
        assert not nodes & other_nodes, f"slot {slot} shares node addresses with another slot"
        assert not pod_blocks & other_pod_blocks, f"slot {slot} shares pod CIDRs with another slot"
        assert not node_blocks & other_pod_blocks and not pod_blocks & other_node_blocks, (
            f"a node address of slot {slot} inside another slot's pod CIDR, or the reverse"
        )
        other_nodes |= nodes
        other_node_blocks |= node_blocks
        other_pod_blocks |= pod_blocks


def test_slot_0_has_the_addresses_of_a_serial_run_before_slots():
    assert node_address(1, 0) == "127.10.0.2" and node_pod_cidr(1, 0) == "127.20.1.0/24"
    assert node_address(200, 0) == "127.10.0.201" and node_pod_cidr(200, 0) == "127.20.200.0/24"


def test_a_node_beyond_the_limit_is_refused_naming_it():
    with pytest.raises(ValueError, match=f"nodes 1 to {MAX_NODES}"):
        node_pod_cidr(MAX_NODES + 1, 0)


def test_the_port_ranges_of_the_slots_are_apart_and_below_the_ephemeral_range():
    ranges = [port_range(slot) for slot in range(MAX_SLOTS)]
    assert all(a.stop <= b.start for a, b in itertools.pairwise(ranges))
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range")
    if ephemeral.exists():
        low = int(ephemeral.read_text().split()[0])
        assert ranges[-1].stop <= low, f"slot ports reach the ephemeral range (from {low})"
    assert free_port() in port_range(address_slot())


def test_a_port_in_use_is_skipped(monkeypatch):
    ports = port_range(address_slot())
    monkeypatch.setattr(cluster, "_port_offsets", iter(range(len(ports))))
    with socket.socket() as taken:
        # The port handed out next, held here (or already by a server of this session).
        with contextlib.suppress(OSError):
            taken.bind(("127.0.0.1", ports[0]))
        assert free_port() in ports[1:]


CLAIM = "import sys; from tests.e2e.cluster import address_slot; print(address_slot(), flush=True); sys.stdin.read()"


def claim(worker: str | None) -> subprocess.Popen:
    """A process that holds a slot until its stdin closes; its slot is the first line it prints."""
    env = {name: value for name, value in os.environ.items() if name != "PYTEST_XDIST_WORKER"}
    env["PYTHONPATH"] = str(ROOT)
    if worker:
        env["PYTEST_XDIST_WORKER"] = worker
    return subprocess.Popen(
        [sys.executable, "-c", CLAIM], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def held(slot: int) -> bool:
    with (cluster.SLOTS_DIR / f"slot-{slot}.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
        return False


def test_processes_running_at_once_hold_different_slots():
    mine = address_slot()
    # Two workers asking for this process's slot, and two serial runs: all get other slots.
    processes = [claim(f"gw{mine}"), claim(f"gw{mine}"), claim(None), claim(None)]
    try:
        slots = [int(process.stdout.readline()) for process in processes]
    finally:
        for process in processes:
            process.communicate("")
    assert len({mine, *slots}) == 5, slots
    free = next(slot for slot in range(MAX_SLOTS - 1, -1, -1) if not held(slot))
    process = claim(f"gw{free}")
    assert int(process.stdout.readline()) == free, "a worker takes its own number when it is free"
    process.communicate("")


def test_no_slot_left_is_refused_naming_where_the_locks_are(monkeypatch, tmp_path):
    monkeypatch.setattr(cluster, "SLOTS_DIR", tmp_path)
    monkeypatch.setattr(cluster, "MAX_SLOTS", 2)
    locks = [(tmp_path / f"slot-{slot}.lock").open("w") for slot in range(2)]
    for lock in locks:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        with pytest.raises(RuntimeError, match=f"all 2 address slots are held .*{tmp_path}"):
            cluster._held_slot.__wrapped__()
    finally:
        for lock in locks:
            lock.close()


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
