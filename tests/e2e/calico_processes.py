"""The real Felix, Typha and calico-kube-controllers for the Calico pods of a simulated cluster.

KWOK runs no containers: this process plays the kubelet's part for Calico's pods. For every Running pod of
calico-node, calico-typha and calico-kube-controllers it runs the real process (built from the Calico
module by build-binaries.sh), configured from the pod's container environment as the container would be,
in the network namespace the pod would have (tests/e2e/pod_network.py): one per simulated node for the
host-network pods (calico-node and calico-typha, at the node's address), one of its own for
kube-controllers (at its pod IP). Inside every namespace a relay listens on the API server's loopback
address and port and connects out to the API server on the host, so each process reads the cluster with
an ordinary kubeconfig, as a container reads it through its service account.

A process that exits is started again a second later, as runit does inside calico-node (Felix exits with
129 when a FelixConfiguration change needs a restart, kube-controllers when its metrics port changes).
A pod that goes takes its process with it, and its namespace once nothing else of it runs. The state
file lists what runs, how often it restarted, and which non-loopback sockets serve ``/metrics`` (read
from the processes' own sockets, then asked once). On SIGTERM everything is stopped and removed.

    python -m tests.e2e.calico_processes --kubeconfig admin.kubeconfig --slot 0 --bin DIR --state F --folder D
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.e2e.calico_standins import ApiClient  # noqa: E402
from tests.e2e.calico_workloads import Workload, process_of  # noqa: E402
from tests.e2e.cluster import SLOTS_DIR  # noqa: E402
from tests.e2e.netns_relay import address as parse_address  # noqa: E402
from tests.e2e.netns_relay import listen_in, relay_connection  # noqa: E402
from tests.e2e.pod_network import PodNetwork  # noqa: E402
from tests.e2e.real_calico_env import (  # noqa: E402
    RESTART_DELAY_SECONDS,
    STOP_SECONDS,
    Supervised,
    die_with_parent,
    in_namespace,
)

POLL_SECONDS = 0.5
SELECTOR = "k8s-app in (calico-node,calico-typha,calico-kube-controllers)"


class ApiRelay:
    """Listens on the API server's host:port inside one namespace; every connection goes to the host's."""

    def __init__(self, netns: str, api: tuple[str, int]) -> None:
        self.api = api
        self.server = listen_in(f"/run/netns/{netns}", *api)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:  # closed
                return
            threading.Thread(target=relay_connection, args=(client, self.api), daemon=True).start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()


class PodRun:
    """A pod's container: its start-up commands once, each until it succeeds (a failed start-up restarts the
    container), then its services, each supervised (runit in calico-node)."""

    def __init__(self, workload: Workload, netns: str, logs: Path) -> None:
        self.workload, self.netns, self.logs = workload, netns, logs
        self.private = workload.folder / "var-lib"
        self.services: dict[str, Supervised] = {}
        self.init_pids: list[int] = []
        self._init: subprocess.Popen | None = None  # the start-up command running now, if one is
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._start, daemon=True)
        self._thread.start()

    def _start(self) -> None:
        log = self.logs / f"{self.workload.log_name}-init.log"
        for argv in self.workload.init:
            while True:
                with self._lock:
                    if self._stopping.is_set():
                        return
                    with log.open("ab") as out:
                        popen = subprocess.Popen(
                            in_namespace(self.netns, self.private, argv), stdout=out, stderr=subprocess.STDOUT,
                            env=self.workload.env, preexec_fn=die_with_parent,
                        )  # fmt: skip
                    self.init_pids.append(popen.pid)
                    self._init = popen
                if popen.wait() == 0:
                    break
                if self._stopping.wait(RESTART_DELAY_SECONDS):
                    return
        with self._lock:
            if self._stopping.is_set():
                return
            for name, argv in self.workload.services:
                log = self.logs / f"{self.workload.log_name}{'' if name == self.workload.component else '-' + name}.log"
                argv = in_namespace(self.netns, self.private, argv)
                self.services[name] = Supervised(name, argv, self.workload.env, log)

    @property
    def main(self) -> Supervised | None:
        """The service named as the component (Felix in calico-node), whose sockets and exits are reported."""
        return self.services.get(self.workload.component)

    def pids(self) -> list[int]:
        return self.init_pids + [pid for service in self.services.values() for pid in service.pids]

    def signal_stop(self) -> None:
        """A start-up command still running (`calico-node -startup` waiting for the API server, say) is ended
        too: a deleted pod's container does not finish its start-up first."""
        with self._lock:
            self._stopping.set()
            init = self._init
        if init is not None and init.poll() is None:
            init.terminate()
        for service in self.services.values():
            service.signal_stop()

    def wait_stopped(self) -> None:
        init = self._init
        if init is not None:
            try:
                init.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                init.kill()
                init.wait()
        self._thread.join(timeout=STOP_SECONDS)
        for service in self.services.values():
            service.wait_stopped()

    def stop(self) -> None:
        self.signal_stop()
        self.wait_stopped()


def listening_sockets(pid: int) -> list[tuple[str, int]]:
    """The TCP sockets process ``pid`` listens on (address, port), from its own descriptors and netns."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    found = []
    for table, width in (("tcp", 8), ("tcp6", 32)):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                parts = line.split()
                if parts[3] != "0A" or parts[9] not in inodes:  # 0A: LISTEN
                    continue
                address, port = parts[1].split(":")
                found.append((decode_address(address, width), int(port, 16)))
    return sorted(set(found))


def decode_address(text: str, width: int) -> str:
    raw = bytes.fromhex(text)
    if width == 8:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


def serves_metrics(host: str, port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=2) as response:
            return response.status == 200 and b"# TYPE " in response.read(65536)
    except (OSError, ValueError):
        return False


class CalicoProcesses:
    def __init__(self, api: ApiClient, kubeconfig: Path, network: PodNetwork, binaries: Path, folder: Path) -> None:
        self.api, self.kubeconfig, self.network, self.binaries, self.folder = api, kubeconfig, network, binaries, folder
        self.api_address = parse_address(urllib.parse.urlsplit(api.server).netloc)
        self.running: dict[str, PodRun] = {}  # by pod UID
        self.namespaces: dict[str, tuple[str, ApiRelay]] = {}  # namespace key -> (name, relay)
        self.probed: dict[tuple[int, str, int], bool] = {}
        self.pids: list[int] = []  # of every process started, for the check that none outlives this one

    def pods(self) -> list[dict[str, Any]]:
        selector = urllib.parse.quote(SELECTOR)
        return (self.api.get(f"/api/v1/pods?labelSelector={selector}") or {}).get("items", [])

    def config_maps(self) -> dict[str, dict[str, str]]:
        listing = self.api.get("/api/v1/namespaces/kube-system/configmaps") or {}
        return {c["metadata"]["name"]: c.get("data", {}) for c in listing.get("items", [])}

    def reconcile(self) -> None:
        pods = {
            p["metadata"]["uid"]: p
            for p in self.pods()
            if p.get("status", {}).get("phase") == "Running"
            and p["status"].get("podIP")
            and not p["metadata"].get("deletionTimestamp")
        }
        for uid in set(self.running) - set(pods):
            gone = self.running.pop(uid)
            gone.stop()
            self.pids += gone.pids()
        wanted_keys = {namespace_key(pod) for pod in pods.values()}
        for key in set(self.namespaces) - wanted_keys:
            name, relay = self.namespaces.pop(key)
            relay.close()
            self.network.remove_namespace(name)
        new = [uid for uid in pods if uid not in self.running]
        if not new:
            return
        config_maps = self.config_maps()
        for uid in new:
            pod = pods[uid]
            workload = process_of(pod, config_maps, self.binaries, self.kubeconfig, self.folder / "pods" / uid)
            if workload is None:
                continue
            self.running[uid] = PodRun(workload, self.namespace_for(pod), self.folder)

    def namespace_for(self, pod: dict[str, Any]) -> str:
        key = namespace_key(pod)
        if key not in self.namespaces:
            name = self.network.add_namespace(key, pod["status"]["podIP"])
            self.namespaces[key] = (name, ApiRelay(name, self.api_address))
        return self.namespaces[key][0]

    def listeners(self) -> list[dict[str, Any]]:
        """What serves /metrics on a pod's address now, as the stand-ins report it (calico_standins.py)."""
        found = []
        for run in self.running.values():
            pid = run.main.pid() if run.main else None
            if pid is None:
                continue
            workload = run.workload
            for address, port in listening_sockets(pid):
                if address.startswith("127.") or address == "::1" or port in workload.not_metrics_ports:
                    continue
                host = workload.address if address in ("0.0.0.0", "::") else address
                key = (pid, host, port)
                if key not in self.probed:
                    self.probed[key] = serves_metrics(host, port)
                if self.probed[key]:
                    found.append({"component": workload.component, "pod": workload.pod, "node": workload.node,
                                  "host": host, "port": port})  # fmt: skip
        return sorted(found, key=lambda x: (x["component"], x["pod"], x["port"]))

    def state(self) -> dict[str, Any]:
        processes = []
        for run in sorted(self.running.values(), key=lambda r: (r.workload.component, r.workload.pod)):
            pid = run.main.pid() if run.main else None
            processes.append({
                "component": run.workload.component, "pod": run.workload.pod, "node": run.workload.node,
                "address": run.workload.address, "netns": run.netns, "pid": pid,
                "exits": list(run.main.exits) if run.main else [],
                "listening": [list(x) for x in listening_sockets(pid)] if pid else [],
                "services": {name: service.pid() for name, service in run.services.items()},
            })  # fmt: skip
        return {"processes": processes, "listeners": self.listeners()}

    def close(self) -> None:
        for run in self.running.values():
            run.signal_stop()
        for run in self.running.values():
            run.wait_stopped()
            self.pids += run.pids()
        self.running.clear()
        for _, relay in self.namespaces.values():
            relay.close()
        self.namespaces.clear()
        self.network.remove()


def namespace_key(pod: dict[str, Any]) -> str:
    """Host-network pods share their node's namespace; any other pod has one of its own."""
    if pod["spec"].get("hostNetwork"):
        return pod["spec"]["nodeName"]
    return f"pod-{pod['metadata']['uid'][:8]}"


def keep_the_slot_when_its_holder_ends(slot: int) -> None:
    """``make demo`` ends while this process runs on: once the lock of the address slot is free, this
    process takes it, so no e2e run reuses the slot (and removes this network) while it runs."""

    def hold() -> None:
        lock = (SLOTS_DIR / f"slot-{slot}.lock").open("w")
        fcntl.flock(lock, fcntl.LOCK_EX)  # held until this process ends

    threading.Thread(target=hold, daemon=True).start()


def write_state(path: Path, state: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(temporary, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, required=True, help="kubeconfig (client certificates)")
    parser.add_argument("--slot", type=int, required=True, help="address slot (tests/e2e/cluster.py)")
    parser.add_argument("--bin", type=Path, required=True, help="folder with calico-felix, calico-typha, ...")
    parser.add_argument("--state", type=Path, required=True, help="JSON file: processes and listeners")
    parser.add_argument("--folder", type=Path, required=True, help="logs and the processes' own files")
    args = parser.parse_args(argv)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    keep_the_slot_when_its_holder_ends(args.slot)
    network = PodNetwork(args.slot)
    network.create()
    processes = CalicoProcesses(ApiClient(args.kubeconfig), args.kubeconfig, network, args.bin, args.folder)
    try:
        write_state(args.state, processes.state())
        while not stopping.is_set():
            try:
                processes.reconcile()
                write_state(args.state, processes.state())
            except (OSError, ValueError, subprocess.CalledProcessError) as error:
                print(f"calico-processes: {error}", file=sys.stderr, flush=True)
            stopping.wait(POLL_SECONDS)
    finally:
        processes.close()
        final = {"processes": [], "listeners": [], "pids": sorted(processes.pids), "leftovers": network.leftovers()}
        write_state(args.state, final)
    return 0


if __name__ == "__main__":
    sys.exit(main())
