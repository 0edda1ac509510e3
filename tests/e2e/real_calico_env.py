"""Running the real Felix, Typha and calico-kube-controllers here, each in a network namespace of its own.

What each process needs, as measured when running them here: the environment the Calico manifests give
its container, plus what running outside a pod needs (a kubeconfig, no log files,
Felix's endpoint status folder, ``FELIX_DebugSkipCTLBCleanup`` without which a CGO_ENABLED=0 Felix panics
at start). ``Supervised`` runs one of them (``in_namespace``: inside a network namespace, with a private folder
over ``/var/lib``), restarted when it exits as calico-node's runit and the kubelet do: Felix and
kube-controllers exit (rc 129) when their configuration changes.

Used by tests/e2e/capture_expositions.py (``make fixtures``) and tests/e2e/calico_processes.py (the pipeline).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FELIX_METRICS_PORT = 9091
TYPHA_METRICS_PORT = 9093
KUBE_CONTROLLERS_METRICS_PORT = 9094
TYPHA_PORT = 5473
# What the processes find on PATH: Felix runs iptables(-restore), ipset, nft, ip and conntrack.
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NETNS_DIR = Path("/run/netns")


def outside_a_pod(kubeconfig: Path) -> dict[str, str]:
    """What every Calico process needs here beyond its container's environment: the image's PATH and a
    kubeconfig in place of the pod's service account."""
    return {"PATH": PATH, "KUBECONFIG": str(kubeconfig)}


def felix_outside_a_pod(node_name: str, kubeconfig: Path, endpoint_status_dir: Path) -> dict[str, str]:
    """What Felix needs here beyond its container's environment: a kubeconfig for the service account, the node
    name and datastore calico-node hands it, no log file or syslog (CALICO_DISABLE_FILE_LOGGING), a folder of its
    own for endpoint status (Felix makes only its last level), and the eBPF clean-up skipped."""
    endpoint_status_dir.mkdir(parents=True, exist_ok=True)
    return {
        **outside_a_pod(kubeconfig),
        "FELIX_FELIXHOSTNAME": node_name,
        "FELIX_DATASTORETYPE": "kubernetes",
        "FELIX_LOGFILEPATH": "none",
        "FELIX_LOGSEVERITYSYS": "none",
        "FELIX_ENDPOINTSTATUSPATHPREFIX": str(endpoint_status_dir),
        # A CGO_ENABLED=0 build has no libbpf: without this Felix panics at start (LIBBPF syscall stub).
        "FELIX_DebugSkipCTLBCleanup": "true",
    }


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
        **felix_outside_a_pod(node_name, kubeconfig, endpoint_status_dir),
        "DATASTORE_TYPE": "kubernetes",
        "NODENAME": node_name,
        "FELIX_LOGSEVERITYSCREEN": log_severity,
        "FELIX_HEALTHENABLED": "true",
        "FELIX_IPV6SUPPORT": "false",
        "FELIX_DEFAULTENDPOINTTOHOSTACTION": "ACCEPT",
    }
    if typha_address:
        env["FELIX_TYPHAADDR"] = typha_address
    return env


def typha_environment(kubeconfig: Path) -> dict[str, str]:
    """calico-typha as calico-typha.yaml runs it, metrics on (TYPHA_PROMETHEUSMETRICS*, as the program sets)."""
    return {
        **outside_a_pod(kubeconfig),
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
        **outside_a_pod(kubeconfig),
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


PR_SET_PDEATHSIG = 1
RESTART_DELAY_SECONDS = 1.0
STOP_SECONDS = 5.0


def die_with_parent() -> None:
    """In the child before exec: killed when the thread that started it ends, so a supervisor that is
    killed itself leaves no Calico process behind."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def in_namespace(netns: str, private: Path, argv: Sequence[str]) -> list[str]:
    """``argv`` run in network namespace ``netns``. `ip netns exec` gives it a mount namespace of its own as well:
    the folder ``private`` is mounted over /var/lib there (the hostPath calico-node mounts at /var/lib/calico;
    Felix writes /var/lib/calico/mtu), so what it writes there stays out of the host's."""
    private.mkdir(parents=True, exist_ok=True)
    mount = 'mount --bind "$0" /var/lib && exec "$@"'
    return ["ip", "netns", "exec", netns, "sh", "-c", mount, str(private), *argv]


class Supervised:
    """A process started again a second after it exits, until stopped: runit inside calico-node, or the
    kubelet restarting a container. Felix and kube-controllers exit (rc 129) when their configuration changes."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, dict(env), log
        self.exits: list[int] = []
        self.pids: list[int] = []
        self.popen: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"supervise-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._stopping.is_set():
                    return
                with self.log.open("ab") as out:
                    self.popen = subprocess.Popen(
                        self.argv, stdout=out, stderr=subprocess.STDOUT, env=self.env, preexec_fn=die_with_parent
                    )
                self.pids.append(self.popen.pid)
            code = self.popen.wait()
            with self._lock:
                self.exits.append(code)
            if self._stopping.wait(RESTART_DELAY_SECONDS):
                return

    def pid(self) -> int | None:
        """The running process's, or None between two runs."""
        popen = self.popen
        return popen.pid if popen is not None and popen.poll() is None else None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def signal_stop(self) -> None:
        with self._lock:
            self._stopping.set()
            popen = self.popen
        if popen is not None and popen.poll() is None:
            popen.terminate()

    def wait_stopped(self) -> None:
        popen = self.popen
        if popen is not None:
            try:
                popen.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:  # Typha sheds its clients for up to TYPHA_SHUTDOWNTIMEOUTSECS
                popen.kill()
                popen.wait()
        self._thread.join(timeout=STOP_SECONDS)

    def stop(self) -> None:
        self.signal_stop()
        self.wait_stopped()

    def running(self) -> list[int]:
        """Those of its processes still running (none once stopped)."""
        return [pid for pid in self.pids if Path(f"/proc/{pid}").exists()]


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
