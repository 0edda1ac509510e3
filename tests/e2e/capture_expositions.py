"""``make fixtures``: the quiet target expositions of tests/fixtures/metrics/targets/, captured from the real Felix
(iptables and nftables mode), Typha and calico-kube-controllers of Calico v3.31.0.

A local control plane (etcd, kube-apiserver) holds the quiet cluster of tests/e2e/quiet_cluster.py. Every
process runs in a network namespace of its own (tests/e2e/real_calico_env.py), reaching the API server through
tests/e2e/netns_relay.py: kube-controllers first (it writes ClusterInformation, which Felix would restart
for), then Typha, then Felix on node-001 (iptables mode) and on node-002 (nftables mode), both streaming
from Typha through a relay into Typha's namespace, as calico-node does when Typha is on. Once each has
settled (``settled``: Felix in sync with its dataplane programmed and its five local endpoints; Typha with
both Felix streaming; kube-controllers with its IPAM block gauges; then four scrapes 5 s apart with the same
series and the same cluster gauges), its /metrics is scraped from inside its namespace and normalised
(tests/e2e/exposition_normalise.py) so that every capture writes the same bytes. Everything started is
stopped and removed on the way out, and checked to be gone.

eBPF mode is not exercised: the Felix built here is CGO_ENABLED=0, and a cgo build needs libbpf headers that
Debian's libbpf-dev does not ship; felix-bpf-quiet.prom stays written by hand. So do the ``*-trouble.prom``
fixtures, which model faults; tests/integration/dashboards/test_real_expositions.py holds them and every
shipped panel, rule and alert to the captured families.

    python -m tests.e2e.capture_expositions [--write] [--raw DIR] [--observe SECONDS]

Without ``--write`` it reports which committed fixtures differ from the capture (exit 1 if any).
``--observe`` scrapes again SECONDS later and prints how fast each counter grew (the figures of
``exposition_normalise.MOVES``). Needs root (network namespaces, mounts), iptables, ipset, nft, conntrack and
the binaries of ``make e2e-bin``.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.cluster import ApiServer, Binaries, Etcd, Pki, admin_kubeconfig
from tests.e2e.exposition_normalise import normalised_fixture
from tests.e2e.quiet_cluster import APPS, NFTABLES_NODE, NODE_ADDRESSES, NODES, kubectl, seed_cluster
from tests.e2e.real_calico_env import (
    FELIX_METRICS_PORT,
    KUBE_CONTROLLERS_METRICS_PORT,
    TYPHA_METRICS_PORT,
    TYPHA_PORT,
    Supervised,
    add_host_interface,
    felix_environment,
    in_namespace,
    kube_controllers_argv,
    kube_controllers_environment,
    network_namespace,
    network_namespaces,
    process_group_alive,
    relay,
    scrape,
    stop_process_group,
    typha_environment,
    wait_listening,
)
from tests.support.expositions import TARGETS_DIR

# fixture -> (node, dataplane mode) of each captured Felix
FELIXES = {"felix-iptables-quiet": (NODES[0], "iptables"), "felix-nftables-quiet": (NFTABLES_NODE, "nftables")}
SETTLE_SCRAPES = 4
SETTLE_INTERVAL_SECONDS = 5
SETTLE_BUDGET_SECONDS = 240
NETNS_PREFIX = "cm-capture-"
HOST_VAR_LIB_CALICO = Path("/var/lib/calico")
# Gauges that measure time or the machine: left out of the settle comparison (normalised on writing).
UNSETTLED_GAUGES = ("go_", "process_", "felix_int_dataplane_initial_resync_time_seconds", "typha_snapshot_",
                    "typha_breadcrumb_seq_number", "promhttp_")  # fmt: skip


@dataclass
class Target:
    """One process to scrape: ``fixture`` is the file its exposition becomes."""

    fixture: str
    netns: str
    port: int
    process: Supervised
    ready: Callable[[str], bool]


def series_of(text: str) -> dict[str, str]:
    """Sample (name and labels) -> value, of one scrape."""
    return dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))


def value_of(text: str, sample: str) -> float | None:
    value = series_of(text).get(sample)
    return None if value is None else float(value)


def cluster_gauges(text: str) -> dict[str, str]:
    types = dict(line.split()[2:4] for line in text.splitlines() if line.startswith("# TYPE "))
    return {
        key: value
        for key, value in series_of(text).items()
        if types.get(key.split("{")[0]) == "gauge" and not key.startswith(UNSETTLED_GAUGES)
    }


def settled(target: Target) -> str:
    """The last of ``SETTLE_SCRAPES`` scrapes, ``SETTLE_INTERVAL_SECONDS`` apart, that were all ``ready`` and had
    the same series and the same cluster gauges."""
    deadline = time.monotonic() + SETTLE_BUDGET_SECONDS
    streak: list[str] = []
    last_error = None
    while time.monotonic() < deadline:
        try:
            text = scrape(target.netns, target.port)
        except ConnectionError as error:
            last_error, text = error, ""
        if not text or not target.ready(text):
            streak = []
        elif streak and (series_of(text).keys(), cluster_gauges(text)) != (
            series_of(streak[-1]).keys(),
            cluster_gauges(streak[-1]),
        ):
            streak = [text]
        else:
            streak.append(text)
        if len(streak) >= SETTLE_SCRAPES:
            return text
        time.sleep(SETTLE_INTERVAL_SECONDS)
    raise TimeoutError(f"{target.fixture} did not settle in {SETTLE_BUDGET_SECONDS} s (last error: {last_error})")


def felix_ready(text: str) -> bool:
    """In sync (felix_resync_state 3), the first dataplane programming done, every local workload seen."""
    return (
        value_of(text, "felix_resync_state") == 3
        and (value_of(text, "felix_int_dataplane_initial_resync_time_seconds") or 0) > 0
        and value_of(text, "felix_active_local_endpoints") == len(APPS)
    )


def wait_for(check: Callable[[], bool], what: str, process: Supervised, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(RuntimeError):
            if check():
                return
        time.sleep(0.5)
    raise TimeoutError(f"{what} not there after {timeout:.0f} s ({process.name} exited so far with {process.exits})")


class Capture:
    """The control plane, the quiet cluster and the four Calico processes; all of it removed by ``close``."""

    def __init__(self, binaries: Binaries, work: Path) -> None:
        self.binaries, self.work, self.logs = binaries, work, work / "logs"
        self.logs.mkdir()
        self.stack = contextlib.ExitStack()
        self.process_groups: list[int] = []  # of the relays
        self.supervised: list[Supervised] = []
        self.control_plane: list = []
        self.targets: list[Target] = []
        self.host_var_lib_calico = HOST_VAR_LIB_CALICO.exists()

    def close(self) -> None:
        self.stack.close()

    def start(self) -> None:
        etcd = Etcd("capture-etcd", self.binaries.etcd, self.work)
        self.stack.callback(etcd.stop)
        self.api = ApiServer("capture", self.binaries, Pki(self.work / "pki"), etcd, self.work)
        self.stack.callback(self.api.stop)
        self.control_plane += [etcd.process, self.api.process]
        self.kubeconfig = admin_kubeconfig(self.api, self.work)
        seed_cluster(self.binaries, self.kubeconfig)

        kc_netns = self.namespace("kc")
        status_file = self.work / "kube-controllers-status.json"
        argv = kube_controllers_argv(self.binaries.calico_kube_controllers, status_file)
        env = kube_controllers_environment(self.kubeconfig)
        kube_controllers = self.supervise("kube-controllers", kc_netns, argv, env)
        last = [Target("kube-controllers-quiet", kc_netns, KUBE_CONTROLLERS_METRICS_PORT, kube_controllers,
                       lambda text: "\nipam_blocks{" in text)]  # fmt: skip
        jsonpath = "jsonpath={.spec.datastoreReady}"
        cluster_information = ("get", "clusterinformations.crd.projectcalico.org", "default", "-o", jsonpath)
        wait_for(lambda: kubectl(self.binaries, self.kubeconfig, *cluster_information) == "true",
                 "ClusterInformation default with datastoreReady", kube_controllers)  # fmt: skip

        typha_netns = self.namespace("typha")
        argv = [str(self.binaries.calico_typha)]
        typha = self.supervise("typha", typha_netns, argv, typha_environment(self.kubeconfig))
        wait_listening(typha_netns, TYPHA_PORT)
        streaming = 'typha_connections_streaming{syncer="felix"}'
        last.insert(0, Target("typha-quiet", typha_netns, TYPHA_METRICS_PORT, typha,
                              lambda text: value_of(text, streaming) == len(FELIXES)))  # fmt: skip
        for fixture, (node, _) in FELIXES.items():
            netns = self.namespace(node)
            add_host_interface(netns, f"{NODE_ADDRESSES[node]}/24")
            # Felix dials Typha at 127.0.0.1:5473 in its own namespace; the relay connects from Typha's.
            self.relay(f"{node}-typha-relay", netns, TYPHA_PORT, from_netns=typha_netns)
            status = self.work / "endpoint-status" / node
            status.mkdir(parents=True)
            env = felix_environment(node, self.kubeconfig, status, typha_address=f"127.0.0.1:{TYPHA_PORT}",
                                    log_severity="warning")  # fmt: skip
            felix = self.supervise(node, netns, [str(self.binaries.calico_felix)], env)
            self.targets.append(Target(fixture, netns, FELIX_METRICS_PORT, felix, felix_ready))
        # Felix first: Typha is settled once both stream from it.
        self.targets += last

    def namespace(self, name: str) -> str:
        """A network namespace that reaches the API server at 127.0.0.1:<its port>, as the host does."""
        netns = self.stack.enter_context(network_namespace(NETNS_PREFIX + name))
        self.relay(f"{name}-api-relay", netns, self.api.port)
        return netns

    def relay(self, name: str, netns: str, port: int, from_netns: str | None = None) -> None:
        popen = relay(name, netns, port, port, self.logs, from_netns=from_netns)
        self.stack.callback(stop_process_group, popen)
        self.process_groups.append(popen.pid)
        wait_listening(netns, port)

    def supervise(self, name: str, netns: str, argv: list[str], env: dict[str, str]) -> Supervised:
        process = Supervised(
            name, in_namespace(netns, self.work / "var-lib" / name, argv), env, self.logs / f"{name}.log"
        )
        self.stack.callback(process.stop)
        self.supervised.append(process)
        return process

    def leftovers(self) -> list[str]:
        found = [f"network namespace {name}" for name in network_namespaces() if name.startswith(NETNS_PREFIX)]
        found += [f"process group {pgid}" for pgid in self.process_groups if process_group_alive(pgid)]
        found += [f"{process.name} (pid {pid})" for process in self.supervised for pid in process.running()]
        found += [f"{process.name} (pid {process.popen.pid})" for process in self.control_plane
                  if process.popen.poll() is None]  # fmt: skip
        mounts = Path("/proc/self/mountinfo").read_text()
        found += [f"a mount of {self.work}"] if str(self.work) in mounts else []
        if HOST_VAR_LIB_CALICO.exists() and not self.host_var_lib_calico:
            found.append(f"{HOST_VAR_LIB_CALICO} (a Felix wrote outside its private /var/lib)")
        return found


def observe(capture: Capture, first: dict[str, tuple[str, float]], seconds: float) -> None:
    """Prints how fast every counter and summary _count grew over ``seconds`` after the capture."""
    time.sleep(seconds)
    for target in capture.targets:
        text = scrape(target.netns, target.port)
        types = dict(line.split()[2:4] for line in text.splitlines() if line.startswith("# TYPE "))
        counters = {name for name, kind in types.items() if kind == "counter"}
        text_before, scraped_at = first[target.fixture]
        before, elapsed = series_of(text_before), time.monotonic() - scraped_at
        for key, value in series_of(text).items():
            name = key.split("{")[0]
            if (name in counters or name.endswith(("_count", "_sum"))) and float(value) > float(before.get(key, "inf")):
                grown = (float(value) - float(before[key])) / elapsed
                print(f"{target.fixture}: {key} +{grown:.3g}/s", file=sys.stderr)


def capture_all(binaries: Binaries, work: Path, observe_seconds: float) -> tuple[dict[str, str], list[str]]:
    """Raw scrapes (fixture name -> exposition text), and what was left behind."""
    capture = Capture(binaries, work)
    try:
        capture.start()
        settled_at = {target.fixture: (settled(target), time.monotonic()) for target in capture.targets}
        captured = {fixture: text for fixture, (text, _) in settled_at.items()}
        for target in capture.targets:
            exits = target.process.exits
            mtu = work / "var-lib" / target.process.name / "calico" / "mtu"
            felix = target.port == FELIX_METRICS_PORT
            wrote = f", its MTU file in its private /var/lib: {mtu.exists()}" if felix else ""
            print(f"{target.process.name}: {len(exits)} restart(s) {exits}{wrote}", file=sys.stderr)
        if observe_seconds:
            observe(capture, settled_at, observe_seconds)
    except Exception:
        for target in capture.targets:
            print(f"--- {target.process.name}, end of its log:\n{target.process.log_text()[-2500:]}", file=sys.stderr)
        raise
    finally:
        capture.close()
    return captured, capture.leftovers()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the fixtures (default: only compare)")
    parser.add_argument("--raw", type=Path, help="also write the raw scrapes and the processes' logs there")
    parser.add_argument("--observe", type=float, default=0, help="seconds to watch the counters grow afterwards")
    args = parser.parse_args()
    binaries = Binaries.locate()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="calico-capture-") as folder:
        try:
            captured, left = capture_all(binaries, Path(folder), args.observe)
        finally:
            if args.raw:
                shutil.copytree(Path(folder) / "logs", args.raw / "logs", dirs_exist_ok=True)
    if left:
        print("left behind: " + ", ".join(left), file=sys.stderr)
        return 1
    differ = []
    for fixture, text in sorted(captured.items()):
        if args.raw:
            args.raw.mkdir(parents=True, exist_ok=True)
            (args.raw / f"{fixture}.prom").write_text(text)
        mode = FELIXES[fixture][1] if fixture in FELIXES else None
        path, fixture_text = TARGETS_DIR / f"{fixture}.prom", normalised_fixture(fixture, text, mode)
        if not path.exists() or path.read_text() != fixture_text:
            differ.append(path.name)
            if args.write:
                path.write_text(fixture_text)
    outcome = "written" if args.write else "differ from the capture"
    print(f"captured {len(captured)} expositions in {time.monotonic() - started:.0f} s, nothing left behind; "
          f"{outcome}: {', '.join(differ) or 'none'}")  # fmt: skip
    return 1 if differ and not args.write else 0


if __name__ == "__main__":
    sys.exit(main())
