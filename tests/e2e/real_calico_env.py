"""Running the real Felix, Typha and calico-kube-controllers here, each in a network namespace of its own.

What each process needs, as measured when running them here: the environment the Calico manifests give
its container, plus what running outside a pod needs (a kubeconfig, no log files,
Felix's endpoint status folder, ``FELIX_DebugSkipCTLBCleanup`` without which a CGO_ENABLED=0 Felix panics
at start). ``SupervisedProcess`` runs one of them inside a network namespace, with a private folder over
``/var/lib`` (Felix writes ``/var/lib/calico/mtu``), restarted when it exits as calico-node's runit and
the kubelet do: Felix and kube-controllers exit (rc 129) when their configuration changes.

Used by tests/e2e/capture_expositions.py (``make fixtures``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FELIX_METRICS_PORT = 9091
TYPHA_METRICS_PORT = 9093
KUBE_CONTROLLERS_METRICS_PORT = 9094
TYPHA_PORT = 5473
# What the processes find on PATH: Felix runs iptables(-restore), ipset, nft, ip and conntrack.
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RESTART_MARK = "supervisor: exited with "
NETNS_DIR = Path("/run/netns")


def felix_environment(
    node_name: str,
    kubeconfig: Path,
    endpoint_status_dir: Path,
    *,
    typha_address: str | None = None,
    log_severity: str = "info",
) -> dict[str, str]:
    """calico-node's Felix on Node ``node_name``, Kubernetes datastore; through Typha at ``typha_address``.

    ``log_severity`` of what it writes to stdout: at ``info`` a Felix starting on a loaded machine may
    outrun its stdout queue, and libcalico-go's logutils counts a line dropped there in
    ``felix_log_errors`` (the destination's counter), not in ``felix_logs_dropped``."""
    env = {
        "PATH": PATH,
        "DATASTORE_TYPE": "kubernetes",
        "FELIX_DATASTORETYPE": "kubernetes",
        "KUBECONFIG": str(kubeconfig),
        "FELIX_FELIXHOSTNAME": node_name,
        "NODENAME": node_name,
        "FELIX_LOGFILEPATH": "none",
        "FELIX_LOGSEVERITYSYS": "none",
        "FELIX_LOGSEVERITYSCREEN": log_severity,
        "FELIX_HEALTHENABLED": "true",
        "FELIX_IPV6SUPPORT": "false",
        "FELIX_DEFAULTENDPOINTTOHOSTACTION": "ACCEPT",
        "FELIX_ENDPOINTSTATUSPATHPREFIX": str(endpoint_status_dir),
        # A CGO_ENABLED=0 build has no libbpf: without this Felix panics at start (LIBBPF syscall stub).
        "FELIX_DebugSkipCTLBCleanup": "true",
    }
    if typha_address:
        env["FELIX_TYPHAADDR"] = typha_address
    return env


def typha_environment(kubeconfig: Path) -> dict[str, str]:
    """calico-typha as calico-typha.yaml runs it, metrics on (TYPHA_PROMETHEUSMETRICS*, as the program sets)."""
    return {
        "PATH": PATH,
        "KUBECONFIG": str(kubeconfig),
        "TYPHA_DATASTORETYPE": "kubernetes",
        "TYPHA_LOGFILEPATH": "none",
        "TYPHA_LOGSEVERITYSYS": "none",
        "TYPHA_LOGSEVERITYSCREEN": "info",
        "TYPHA_HEALTHENABLED": "true",
        "TYPHA_PROMETHEUSMETRICSENABLED": "true",
        "TYPHA_PROMETHEUSMETRICSPORT": str(TYPHA_METRICS_PORT),
    }


def kube_controllers_environment(kubeconfig: Path) -> dict[str, str]:
    """calico-kube-controllers as calico.yaml runs it; its metrics port comes from KubeControllersConfiguration."""
    return {
        "PATH": PATH,
        "KUBECONFIG": str(kubeconfig),
        "DATASTORE_TYPE": "kubernetes",
        "ENABLED_CONTROLLERS": "node,loadbalancer",
    }


def kube_controllers_argv(binary: Path, status_file: Path) -> list[str]:
    """Its status file defaults to /status/status.json (the pod's emptyDir); here one of the run's own."""
    return [str(binary), f"--status-file={status_file}"]


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def network_namespaces() -> set[str]:
    return {line.split()[0] for line in ip("netns", "list").stdout.splitlines() if line.strip()}


@contextlib.contextmanager
def network_namespace(name: str) -> Iterator[str]:
    """A new network namespace with ``lo`` up, deleted on the way out."""
    if name in network_namespaces():
        raise RuntimeError(f"network namespace {name} exists already (left by an earlier run? `ip netns del {name}`)")
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        ip("netns", "del", name, check=False)


class SupervisedProcess:
    """``argv`` inside network namespace ``netns``, with ``var_lib`` mounted over /var/lib, restarted on exit.

    ``ip netns exec`` gives the command a mount namespace of its own, so the bind mount is seen by this
    process only. Everything runs in a process group of its own, which ``stop`` ends.
    """

    def __init__(
        self, name: str, netns: str, argv: list[str], env: Mapping[str, str], var_lib: Path, log_dir: Path
    ) -> None:
        self.name, self.netns = name, netns
        var_lib.mkdir(parents=True, exist_ok=True)
        self.log = log_dir / f"{name}.log"
        script = (
            f'mount --bind "$1" /var/lib || exit 97; shift; while :; do "$@"; echo "{RESTART_MARK}$?"; sleep 1; done'
        )
        with self.log.open("wb") as log:
            self.popen = subprocess.Popen(
                ["ip", "netns", "exec", netns, "sh", "-c", script, "supervisor", str(var_lib), *argv],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env),
                start_new_session=True,
            )
        self.pgid = self.popen.pid

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def exits(self) -> list[str]:
        """The exit codes of the runs so far (each restart follows one)."""
        return [line.split(RESTART_MARK, 1)[1] for line in self.log_text().splitlines() if RESTART_MARK in line]

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise RuntimeError(
                f"{self.name}: supervisor exited with {self.popen.returncode}:\n{self.log_text()[-3000:]}"
            )

    def stop(self) -> None:
        """SIGTERM to the whole group (supervisor and process), SIGKILL to what is left after 15 s."""
        for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, sig)
            deadline = time.monotonic() + wait
            while process_group_alive(self.pgid) and time.monotonic() < deadline:
                self.popen.poll()  # reaps the supervisor, so that its group can end
                time.sleep(0.1)
            if not process_group_alive(self.pgid):
                return


def relay(
    name: str, listen_netns: str, port: int, to_port: int, log_dir: Path, from_netns: str | None = None
) -> subprocess.Popen:
    """tests/e2e/netns_relay.py: 127.0.0.1:``port`` inside ``listen_netns`` to 127.0.0.1:``to_port`` of the
    host, or of ``from_netns`` (the relay then runs there and only listens in ``listen_netns``). In a process
    group of its own: ``stop_process_group`` ends it."""
    argv = [
        sys.executable, "-m", "tests.e2e.netns_relay", f"--netns={NETNS_DIR / listen_netns}",
        f"--listen=127.0.0.1:{port}", f"--to=127.0.0.1:{to_port}",
    ]  # fmt: skip
    if from_netns:
        argv = ["ip", "netns", "exec", from_netns, *argv]
    with (log_dir / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            start_new_session=True,
        )  # fmt: skip


def wait_listening(netns: str, port: int, timeout: float = 30) -> None:
    """Until something listens on TCP ``port`` inside ``netns``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listeners = subprocess.run(
            ["ip", "netns", "exec", netns, "ss", "-Hltn", f"sport = :{port}"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        if listeners.strip():
            return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on :{port} in {netns} after {timeout:.0f} s")


def add_host_interface(netns: str, address: str) -> None:
    """An ``eth0`` with ``address`` (CIDR) in ``netns``: the node's own interface, which Felix reads its MTU
    from (with none, it warns every 30 s that no interface matches its MTU pattern). A veth pair with both
    ends inside (this kernel has no dummy links); the other end, ``uplink0``, matches no Felix pattern."""
    ip("-n", netns, "link", "add", "eth0", "type", "veth", "peer", "name", "uplink0")
    ip("-n", netns, "addr", "add", address, "dev", "eth0")
    ip("-n", netns, "link", "set", "uplink0", "up")
    ip("-n", netns, "link", "set", "eth0", "up")


def stop_process_group(popen: subprocess.Popen) -> None:
    """SIGTERM to the group ``popen`` leads, SIGKILL after 10 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(popen.pid, signal.SIGTERM)
    try:
        popen.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait()


def scrape(netns: str, port: int, path: str = "/metrics", timeout: float = 10) -> str:
    """GET http://127.0.0.1:``port````path`` from inside ``netns``."""
    result = subprocess.run(
        ["ip", "netns", "exec", netns, "curl", "--silent", "--show-error", "--fail", "--max-time", str(timeout),
         f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise ConnectionError(f"scrape of {netns} :{port}{path}: {result.stderr.strip()}")
    return result.stdout


def process_group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is left."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
