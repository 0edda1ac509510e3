"""A local control plane for the e2e suite: etcd, kube-apiserver and their credentials, on loopback,
with kube-controller-manager, and kube-scheduler and KWOK where a scenario has simulated nodes.

Everything runs from the binaries that tests/e2e/build-binaries.sh puts in the cache. Each
process logs to a file in the run's folder and is stopped by the fixtures.
"""

from __future__ import annotations

import fcntl
import functools
import itertools
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tests.e2e.pod_network import node_address as pod_network_node_address
from tests.e2e.pod_network import node_pod_cidr as pod_network_node_cidr

HERE = Path(__file__).resolve().parent
CALICO_MODULE = "github.com/projectcalico/calico"
PROMETHEUS_OPERATOR_MODULE = "github.com/prometheus-operator/prometheus-operator"
KWOK_MODULE = "sigs.k8s.io/kwok"
# The Stage objects kwokctl runs by default: nodes initialised and kept alive with leases,
# pods Running and Ready at once, deleted pods finalised.
KWOK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)
# Every e2e process (each pytest-xdist worker, a serial run, make demo) holds an address slot s of its own
# (address_slot): its simulated nodes are in 127.(10+s).0.0/16, their pod CIDRs in 127.(20+s).0.0/16, its
# loopback ports from FIRST_PORT + PORTS_PER_SLOT * s.
MAX_SLOTS = 10
MAX_NODES = 255
FIRST_PORT = 20000
PORTS_PER_SLOT = 1000
SLOTS_DIR = Path(tempfile.gettempdir()) / "calico-monitoring-e2e-slots"
_port_offsets = itertools.count()
# The number of each API server this process starts, which names its etcd prefix. Kept here, in a module
# imported once: pytest loads tests/e2e/conftest.py as `conftest`, and a test module that imports
# `tests.e2e.conftest` gets a second copy of it, whose own counter would start again at 1.
CLUSTER_NUMBERS = itertools.count(1)


def versions() -> dict[str, str]:
    pins = {}
    for line in (HERE / "versions.env").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line:
            name, value = line.split("=", 1)
            pins[name] = value
    return pins


def cache_root() -> Path:
    if os.environ.get("CALICO_MONITORING_E2E_CACHE"):
        return Path(os.environ["CALICO_MONITORING_E2E_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "calico-monitoring" / "e2e"


@dataclass(frozen=True)
class Binaries:
    pulumi: Path
    pulumi_kubernetes: Path
    pulumi_language_yaml: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kubectl: Path
    calicoctl: Path
    calico_node: Path
    calico_felix: Path
    calico_typha: Path
    calico_kube_controllers: Path
    kwok: Path
    prometheus_operator: Path
    etcd: Path
    prometheus: Path
    promtool: Path
    pulumi_version: str
    pulumi_kubernetes_version: str
    pulumi_yaml_version: str

    @classmethod
    def locate(cls) -> Binaries:
        pins, root = versions(), cache_root()
        kubernetes = root / f"kubernetes-{pins['KUBERNETES_VERSION']}" / "bin"
        calico = root / f"calico-{pins['CALICO_VERSION']}-{pins['CALICO_GO_TOOLCHAIN']}" / "bin"
        found = {
            "pulumi": root / f"pulumi-{pins['PULUMI_VERSION']}" / "bin" / "pulumi",
            "pulumi_kubernetes": root
            / f"pulumi-kubernetes-v{pins['PULUMI_KUBERNETES_VERSION']}"
            / "bin"
            / "pulumi-resource-kubernetes",
            "pulumi_language_yaml": root
            / f"pulumi-yaml-{pins['PULUMI_YAML_VERSION']}"
            / "bin"
            / "pulumi-language-yaml",
            "kube_apiserver": kubernetes / "kube-apiserver",
            "kube_controller_manager": kubernetes / "kube-controller-manager",
            "kube_scheduler": kubernetes / "kube-scheduler",
            "kubectl": kubernetes / "kubectl",
            "calicoctl": calico / "calicoctl",
            "calico_node": calico / "calico-node",
            "calico_felix": calico / "calico-felix",
            "calico_typha": calico / "calico-typha",
            "calico_kube_controllers": calico / "calico-kube-controllers",
            "kwok": root / f"kwok-{pins['KWOK_VERSION']}" / "bin" / "kwok",
            "prometheus_operator": root
            / f"prometheus-operator-{pins['PROMETHEUS_OPERATOR_VERSION']}"
            / "bin"
            / "prometheus-operator",
            "etcd": root / f"etcd-{pins['ETCD_VERSION']}" / "bin" / "etcd",
            "prometheus": root / f"prometheus-{pins['PROMETHEUS_VERSION']}" / "bin" / "prometheus",
            "promtool": root / f"prometheus-{pins['PROMETHEUS_VERSION']}" / "bin" / "promtool",
        }
        missing = [str(path) for path in found.values() if not path.exists()]
        if missing:
            raise RuntimeError("e2e binaries missing (run `make e2e-bin`): " + ", ".join(missing))
        return cls(
            **found,
            pulumi_version=pins["PULUMI_VERSION"],
            pulumi_kubernetes_version=pins["PULUMI_KUBERNETES_VERSION"],
            pulumi_yaml_version=pins["PULUMI_YAML_VERSION"],
        )


def module_dir(module: str, version: str) -> Path:
    """A module's folder in the Go module cache (downloaded by build-binaries.sh)."""
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GONOSUMDB": "github.com/projectcalico"}
    result = subprocess.run(
        [shutil.which("go") or "/usr/local/go/bin/go", "mod", "download", "-json", f"{module}@{version}"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=HERE,
    )
    if result.returncode != 0:
        raise RuntimeError(f"go mod download {module}@{version} failed: {result.stdout}{result.stderr}")
    return Path(json.loads(result.stdout)["Dir"])


def calico_manifests() -> Path:
    return module_dir(CALICO_MODULE, versions()["CALICO_MODULE_VERSION"]) / "manifests"


def prometheus_operator_crds() -> list[Path]:
    root = module_dir(PROMETHEUS_OPERATOR_MODULE, versions()["PROMETHEUS_OPERATOR_VERSION"])
    return sorted((root / "example" / "prometheus-operator-crd").glob("monitoring.coreos.com_*.yaml"))


@functools.cache
def _held_slot() -> tuple[int, IO]:
    SLOTS_DIR.mkdir(exist_ok=True)
    preferred = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")) % MAX_SLOTS
    for slot in [*range(preferred, MAX_SLOTS), *range(preferred)]:
        lock = (SLOTS_DIR / f"slot-{slot}.lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        return slot, lock
    raise RuntimeError(f"e2e: all {MAX_SLOTS} address slots are held by other e2e processes (locks in {SLOTS_DIR})")


def address_slot() -> int:
    """This process's block of addresses and ports, held (a lock in SLOTS_DIR) until the process ends.

    Scenarios run on parallel pytest-xdist workers, and someone may run a scenario while a whole run
    goes on: every such process gets a slot no other holds, so two scenarios running at once never bind
    the same address or port. A worker tries its own number first (gw1: slot 1), anything else slot 0.
    """
    return _held_slot()[0]


def port_range(slot: int) -> range:
    """The loopback ports of ``slot``: below Linux's ephemeral range (32768-60999), from which outgoing
    connections and other programs' port-0 listeners take theirs, so a port stays free until the
    process it is for binds it."""
    first = FIRST_PORT + PORTS_PER_SLOT * slot
    return range(first, first + PORTS_PER_SLOT)


def free_port() -> int:
    """A loopback port nothing listens on, from this process's slot."""
    ports = port_range(address_slot())
    for _ in ports:
        port = ports[next(_port_offsets) % len(ports)]
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:  # in use, or in TIME_WAIT from an earlier scenario
                continue
            return port
    raise RuntimeError(f"e2e: no free loopback port in {ports.start}-{ports.stop - 1}")


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class Pki:
    """A throwaway CA and the certificates the control plane and its clients use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        openssl(
            "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=e2e-ca", cwd=folder
        )
        openssl("genrsa", "-out", "sa.key", "2048", cwd=folder)
        openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=folder)
        self.ca = folder / "ca.crt"
        self.sa_key, self.sa_pub = folder / "sa.key", folder / "sa.pub"

    def issue(self, name: str, subject: str, *, server: bool = False) -> tuple[Path, Path]:
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=self.folder)
        extensions = self.folder / f"{name}.ext"
        usage = "serverAuth" if server else "clientAuth"
        lines = [f"extendedKeyUsage={usage}"]
        if server:
            lines.append("subjectAltName=IP:127.0.0.1,DNS:localhost")
        extensions.write_text("\n".join(lines) + "\n")
        openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.crt", "-days", "2", "-extfile", extensions.name, cwd=self.folder,
        )  # fmt: skip
        return self.folder / f"{name}.crt", self.folder / f"{name}.key"


class Process:
    def __init__(
        self, name: str, argv: list[str], log_dir: Path, env: dict[str, str] | None = None, detached: bool = False
    ) -> None:
        """``detached``: in a session of its own, so it outlives the Python process that started it (make demo)."""
        self.name = name
        self.log = log_dir / f"{name}.log"
        self._handle = self.log.open("wb")
        self.popen = subprocess.Popen(
            argv, stdout=self._handle, stderr=subprocess.STDOUT, env=env, start_new_session=detached
        )

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{tail}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._handle.close()


def wait_until(what: str, check, timeout: float, process: Process | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if process is not None:
            process.check_alive()
        try:
            if check():
                return
        except Exception as error:
            last = error
        time.sleep(0.3)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s (last error: {last})")


class Etcd:
    def __init__(
        self,
        name: str,
        binary: Path,
        folder: Path,
        tls: tuple[Path, Path, Path] | None = None,
        client: tuple[Path, Path] | None = None,
        detached: bool = False,
    ) -> None:
        """``tls``: (CA, server certificate, server key) to require client certificates; ``client``:
        the certificate and key the health check presents then."""
        self.name, self.folder, self.tls, self.client, self.detached = name, folder, tls, client, detached
        self.client_port, peer_port = free_port(), free_port()
        scheme = "https" if tls else "http"
        self.endpoint = f"{scheme}://127.0.0.1:{self.client_port}"
        self.argv = [
            str(binary),
            f"--name={name}",
            f"--data-dir={folder / name}",
            f"--listen-client-urls={self.endpoint}",
            f"--advertise-client-urls={self.endpoint}",
            f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-cluster={name}=http://127.0.0.1:{peer_port}",
            "--max-request-bytes=10485760",
            "--log-level=warn",
        ]
        if tls:
            ca, cert, key = tls
            self.argv += [f"--trusted-ca-file={ca}", f"--cert-file={cert}", f"--key-file={key}", "--client-cert-auth"]
        self.start()

    def start(self) -> None:
        """Starts (or starts again, on the same ports and data) and waits until healthy."""
        self.process = Process(self.name, self.argv, self.folder, detached=self.detached)
        wait_until(self.name, self._healthy, 30, self.process)

    def _healthy(self) -> bool:
        context = None
        if self.tls:
            ca, _, _ = self.tls
            context = ssl.create_default_context(cafile=str(ca))
            if self.client:
                context.load_cert_chain(str(self.client[0]), str(self.client[1]))
        with urllib.request.urlopen(f"{self.endpoint}/health", timeout=2, context=context) as response:
            return json.loads(response.read()).get("health") == "true"

    def stop(self) -> None:
        self.process.stop()


class ApiServer:
    def __init__(
        self, name: str, binaries: Binaries, pki: Pki, etcd: Etcd, folder: Path, detached: bool = False
    ) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        cert, key = pki.issue(f"{name}-apiserver", f"/CN={name}-apiserver", server=True)
        argv = [
            str(binaries.kube_apiserver),
            f"--etcd-servers={etcd.endpoint}",
            f"--etcd-prefix=/{name}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}",
            f"--tls-cert-file={cert}",
            f"--tls-private-key-file={key}",
            f"--client-ca-file={pki.ca}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.sa_pub}",
            f"--service-account-signing-key-file={pki.sa_key}",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
            "--endpoint-reconciler-type=none",
            "--enable-priority-and-fairness=false",
            "--profiling=false",
            "--disable-admission-plugins=ServiceAccount",
        ]
        self.process = Process(name, argv, folder, detached=detached)
        self.ca = pki.ca
        self.admin_cert, self.admin_key = pki.issue(f"{name}-admin", "/O=system:masters/CN=e2e-admin")
        wait_until(f"{name} kube-apiserver", self._ready, 90, self.process)

    def _ready(self) -> bool:
        context = ssl.create_default_context(cafile=str(self.ca))
        context.load_cert_chain(str(self.admin_cert), str(self.admin_key))
        with urllib.request.urlopen(f"{self.url}/readyz", timeout=3, context=context) as response:
            return response.status == 200

    def stop(self) -> None:
        self.process.stop()


def admin_kubeconfig(api: ApiServer, folder: Path) -> Path:
    """A kubeconfig with only ``api``, for the control-plane processes."""
    kubeconfig = folder / f"{api.name}-admin.kubeconfig"
    if not kubeconfig.exists():
        write_kubeconfig(kubeconfig, [api], current=api.name)
    return kubeconfig


def control_plane_flags(kubeconfig: Path) -> list[str]:
    """What kube-controller-manager and kube-scheduler both take: credentials, a loopback port, no election."""
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={free_port()}",
        "--leader-elect=false",
    ]


class ControllerManager:
    """kube-controller-manager: garbage collection (foreground deletes), workload status, pods."""

    def __init__(
        self, api: ApiServer, binaries: Binaries, pki: Pki, folder: Path, *, nodes: bool = False, detached: bool = False
    ) -> None:
        """``nodes``: run the node lifecycle controller too, which lifts a new node's not-ready taint once
        KWOK reports it Ready (without nodes it has nothing to do)."""
        kubeconfig = admin_kubeconfig(api, folder)
        disabled = ["-nodeipam", "-cloud-node-lifecycle", "-service-lb-controller"]
        if not nodes:
            disabled.append("-nodelifecycle")
        argv = [
            str(binaries.kube_controller_manager),
            *control_plane_flags(kubeconfig),
            f"--root-ca-file={pki.ca}",
            f"--service-account-private-key-file={pki.sa_key}",
            f"--controllers={','.join(['*', *disabled])}",
        ]
        self.process = Process(f"{api.name}-controller-manager", argv, folder, detached=detached)
        self.process.check_alive()

    def stop(self) -> None:
        self.process.stop()


class Scheduler:
    """kube-scheduler: binds the DaemonSet's and Deployments' pods to the simulated nodes."""

    def __init__(self, api: ApiServer, binaries: Binaries, folder: Path, detached: bool = False) -> None:
        kubeconfig = admin_kubeconfig(api, folder)
        argv = [
            str(binaries.kube_scheduler),
            *control_plane_flags(kubeconfig),
        ]
        self.process = Process(f"{api.name}-scheduler", argv, folder, detached=detached)
        self.process.check_alive()

    def stop(self) -> None:
        self.process.stop()


def kwok_stages() -> str:
    root = module_dir(KWOK_MODULE, versions()["KWOK_VERSION"]) / "kustomize" / "stage"
    return "\n---\n".join((root / stage).read_text() for stage in KWOK_STAGES)


class Kwok:
    """KWOK's controller: plays the kubelet of every simulated node (status, leases, pod phases, pod IPs)."""

    def __init__(self, api: ApiServer, binaries: Binaries, folder: Path, detached: bool = False) -> None:
        kubeconfig = admin_kubeconfig(api, folder)
        stages = folder / f"{api.name}-kwok-stages.yaml"
        stages.write_text(kwok_stages())
        argv = [
            str(binaries.kwok),
            f"--kubeconfig={kubeconfig}",
            f"--config={stages}",
            "--manage-all-nodes=true",
            f"--server-address=127.0.0.1:{free_port()}",
            "--node-ip=127.0.0.1",
            "--node-lease-duration-seconds=40",
        ]
        self.process = Process(f"{api.name}-kwok", argv, folder, detached=detached)
        self.process.check_alive()

    def stop(self) -> None:
        self.process.stop()


def node_address(number: int, slot: int | None = None) -> str:
    """The InternalIP of simulated node ``number`` (1-based): 127.10.x.y in slot 0 (127.11.x.y in slot 1,
    ...), never 127.0.0.1."""
    check_node_number(number)
    return f"127.{10 + (address_slot() if slot is None else slot)}.{number // 250}.{number % 250 + 1}"


def node_pod_cidr(number: int, slot: int | None = None) -> str:
    """The pod CIDR of simulated node ``number``: 127.20.<number>.0/24 in slot 0 (127.21... in slot 1, ...)."""
    check_node_number(number)
    return f"127.{20 + (address_slot() if slot is None else slot)}.{number}.0/24"


def check_node_number(number: int) -> None:
    if not 1 <= number <= MAX_NODES:
        raise ValueError(f"simulated node {number}: a cluster has nodes 1 to {MAX_NODES} (one pod /24 each)")


def simulated_node(number: int, *, pod_network: bool = False) -> dict:
    """A Node as KWOK manages it, with an address and pod CIDR this machine answers on: in 127.0.0.0/8, or
    with ``pod_network`` in the slot's pod network (tests/e2e/pod_network.py), where the real Calico processes
    run and Services get endpoints."""
    name = f"node-{number:03d}"
    if pod_network:
        address, pod_cidr = (
            pod_network_node_address(number, address_slot()),
            pod_network_node_cidr(number, address_slot()),
        )
    else:
        address, pod_cidr = node_address(number), node_pod_cidr(number)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "type": "kwok",
            },
        },
        "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": address},
                {"type": "Hostname", "address": name},
            ],
            "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
        },
    }


def write_kubeconfig(path: Path, servers: list[ApiServer], current: str) -> None:
    """A kubeconfig with one context per API server; ``current`` is the ambient one."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": s.name, "cluster": {"server": s.url, "certificate-authority": str(s.ca)}} for s in servers
        ],
        "users": [
            {"name": s.name, "user": {"client-certificate": str(s.admin_cert), "client-key": str(s.admin_key)}}
            for s in servers
        ],
        "contexts": [{"name": s.name, "context": {"cluster": s.name, "user": s.name}} for s in servers],
        "current-context": current,
    }
    path.write_text(json.dumps(config, indent=2) + "\n")
