"""Fixtures of the e2e suite: a real control plane, real calicoctl, the real Pulumi CLI.

Session: the binaries, the PKI, one etcd, a decoy API server (the kubeconfig's
current-context, which nothing may touch) and a Pulumi home with the provider plugin
installed from the cache. Per test: a fresh API server on its own etcd prefix, set up
the way a user's cluster is (Calico from its manifests, prometheus-operator CRDs, the
`monitoring` namespace, FelixConfiguration and KubeControllersConfiguration with
non-default values), and a copy of the program with its own stack and state.

`make e2e` runs the scenarios on parallel pytest-xdist workers: each worker has a session of its
own (its folders, etcd, decoy and Pulumi home) and addresses and ports of its own
(cluster.address_slot); the controller prints the measurements of all of them at the end.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.calico_standins import ApiClient
from tests.e2e.cluster import (
    CLUSTER_NUMBERS,
    ApiServer,
    Binaries,
    ControllerManager,
    Etcd,
    Kwok,
    Pki,
    Process,
    Scheduler,
    address_slot,
    admin_kubeconfig,
    calico_manifests,
    free_port,
    prometheus_operator_crds,
    simulated_node,
    write_kubeconfig,
)
from tests.e2e.measurements import TIMINGS, add_from_worker, for_controller, summary
from tests.e2e.prometheus_pipeline import MonitoringPipeline, operator_argv, prometheus_resource
from tests.e2e.simulation import daemonset_settled, deployment_settled, wait_for

ROOT = Path(__file__).resolve().parents[2]
# The program: its project files and the packages pyproject.toml declares.
PROGRAM_FILES = (
    "Pulumi.yaml",
    "__main__.py",
    "requirements.txt",
    *tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"],
)
PASSPHRASE = "e2e-only-passphrase"

FELIX_BEFORE = {"logSeverityScreen": "Warning", "reportingInterval": "0s", "prometheusMetricsPort": 9095}
KUBE_CONTROLLERS_BEFORE = {
    "logSeverityScreen": "Warning",
    "healthChecks": "Enabled",
    "controllers": {"node": {"reconcilerPeriod": "7m0s", "syncLabels": "Enabled"}},
}


@pytest.fixture(scope="session")
def binaries() -> Binaries:
    return Binaries.locate()


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def pki(session_dir) -> Pki:
    return Pki(session_dir / "pki")


@pytest.fixture(scope="session")
def etcd(binaries, session_dir):
    server = Etcd("etcd", binaries.etcd, session_dir)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def decoy(binaries, pki, etcd, session_dir):
    server = ApiServer("decoy", binaries, pki, etcd, session_dir)
    yield server
    server.stop()


def install_pulumi_home(binaries: Binaries, home: Path) -> Path:
    """A Pulumi home with the kubernetes provider plugin installed from the cache (nothing is downloaded)."""
    env = {**os.environ, "PULUMI_HOME": str(home), "PULUMI_SKIP_UPDATE_CHECK": "true"}
    subprocess.run(
        [str(binaries.pulumi), "plugin", "install", "resource", "kubernetes", f"v{binaries.pulumi_kubernetes_version}",
         "--file", str(binaries.pulumi_kubernetes)],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    return home


@pytest.fixture(scope="session")
def pulumi_home(binaries, session_dir) -> Path:
    return install_pulumi_home(binaries, session_dir / "pulumi-home")


@dataclass
class Cluster:
    """One scenario's cluster, reached through kubectl and calicoctl like a user would."""

    api: ApiServer
    decoy: ApiServer | None
    kubeconfig: Path
    binaries: Binaries
    folder: Path
    context: str = "e2e"
    nodes: int = 0
    real_calico: bool = False  # its nodes' addresses are in the pod network, for the real Calico processes

    @property
    def admin_kubeconfig(self) -> Path:
        return admin_kubeconfig(self.api, self.folder)

    def api_client(self) -> ApiClient:
        return ApiClient(self.admin_kubeconfig)

    def _kubectl(self, args: tuple[str, ...], context: str | None, input: str | None = None):
        argv = [str(self.binaries.kubectl), f"--kubeconfig={self.kubeconfig}", f"--context={context or self.context}"]
        return subprocess.run([*argv, *args], input=input, capture_output=True, text=True, check=False)

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, context: str | None = None) -> str:
        result = self._kubectl(args, context, input)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def get(self, kind: str, name: str, namespace: str | None = None, context: str | None = None) -> dict | None:
        result = self._kubectl(("get", kind, name, "-o", "json", *(["-n", namespace] if namespace else [])), context)
        if result.returncode != 0:
            if "NotFound" in result.stderr or "not found" in result.stderr:
                return None
            raise AssertionError(f"kubectl get {kind} {name} failed: {result.stderr}")
        return json.loads(result.stdout)

    def calicoctl_env(self) -> dict[str, str]:
        return {
            "PATH": os.environ["PATH"],
            "DATASTORE_TYPE": "kubernetes",
            "KUBECONFIG": str(self.kubeconfig),
            "K8S_CURRENT_CONTEXT": self.context,
        }

    def calicoctl(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            [str(self.binaries.calicoctl), *args],
            input=input,
            capture_output=True,
            text=True,
            env=env or self.calicoctl_env(),
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"calicoctl {' '.join(args)} failed: {result.stdout}{result.stderr}")
        return result.stdout

    def calico_resource(self, kind: str, name: str = "default", env: dict[str, str] | None = None) -> dict:
        return json.loads(self.calicoctl("get", kind, name, "-o", "json", env=env))


def wait_established(cluster: Cluster, crd: str) -> None:
    """Until the API server serves the CRD (its status may not exist yet right after creation)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = cluster.kubectl("get", f"crd/{crd}", "-o", "jsonpath={.status.conditions}", check=False)
        if '"type":"Established"' in status and '"status":"True"' in status:
            return
        time.sleep(0.2)
    raise AssertionError(f"CRD {crd} not established after 60 s")


def apply_documents(
    cluster: Cluster,
    path: Path,
    *,
    server_side: bool = False,
    skip_kinds: tuple[str, ...] = (),
    edit: Callable[[dict[str, Any]], dict[str, Any]] = lambda document: document,
):
    documents = [edit(d) for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") not in skip_kinds]
    text = yaml.safe_dump_all(documents)
    if server_side:
        cluster.kubectl("apply", "--server-side", "-f", "-", input=text)
    else:
        cluster.kubectl("apply", "-f", "-", input=text)


def as_canal(document: dict[str, Any]) -> dict[str, Any]:
    """Calico's calico-node DaemonSet as Canal installs it: named `canal`, with flannel's container beside
    Felix's `calico-node` container."""
    if document.get("kind") != "DaemonSet" or document["metadata"]["name"] != "calico-node":
        return document
    document = copy.deepcopy(document)
    document["metadata"]["name"] = "canal"
    document["metadata"].setdefault("labels", {})["k8s-app"] = "canal"
    document["spec"]["selector"]["matchLabels"]["k8s-app"] = "canal"
    document["spec"]["template"]["metadata"]["labels"]["k8s-app"] = "canal"
    pod = document["spec"]["template"]["spec"]
    felix = next(c for c in pod["containers"] if c["name"] == "calico-node")
    pod["containers"].append({"name": "kube-flannel", "image": felix["image"], "command": ["/opt/bin/flanneld"]})
    return document


def install_calico(cluster: Cluster, *, typha: bool, canal: bool = False) -> None:
    """Calico's own manifest, applied with kubectl (client-side apply, as most installs are); with ``canal``,
    its DaemonSet as Canal names it."""
    manifests = calico_manifests()
    crds = [d for d in yaml.safe_load_all((manifests / "crds.yaml").read_text()) if d]
    # CRDs are too large for client-side apply's last-applied annotation; Calico's docs create them.
    cluster.kubectl("create", "-f", "-", input=yaml.safe_dump_all(crds))
    manifest = manifests / ("calico-typha.yaml" if typha else "calico.yaml")
    apply_documents(
        cluster,
        manifest,
        skip_kinds=("CustomResourceDefinition",),
        edit=as_canal if canal else lambda document: document,
    )
    for crd in crds:
        wait_established(cluster, crd["metadata"]["name"])


def seed_calico_configuration(cluster: Cluster) -> None:
    """What calico-node and kube-controllers create when they start, with values an operator changed."""
    for kind, spec in (("FelixConfiguration", FELIX_BEFORE), ("KubeControllersConfiguration", KUBE_CONTROLLERS_BEFORE)):
        document = {"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": {"name": "default"}, "spec": spec}
        # A fresh API server on a loaded machine may time a write out (seen with both e2e workers and another
        # run at once); `apply` may be repeated whether or not the timed-out write landed.
        for attempt in range(3):
            try:
                cluster.calicoctl("apply", "-f", "-", input=json.dumps(document))
                break
            except AssertionError as error:
                if "Timeout" not in str(error) or attempt == 2:
                    raise


def install_prometheus_operator_crds(cluster: Cluster) -> None:
    for crd in prometheus_operator_crds():
        cluster.kubectl("apply", "--server-side", "-f", str(crd))
    cluster.kubectl("create", "namespace", "monitoring")
    for name in ("podmonitors", "servicemonitors", "prometheusrules"):
        wait_established(cluster, f"{name}.monitoring.coreos.com")


def add_simulated_nodes(cluster: Cluster, count: int) -> None:
    documents = [simulated_node(number, pod_network=cluster.real_calico) for number in range(1, count + 1)]
    cluster.kubectl("create", "-f", "-", input=yaml.safe_dump_all(documents))


def wait_for_calico_workloads(cluster: Cluster, *, typha: bool, timeout: float = 600) -> float:
    """Until calico-node runs on every simulated node and the Deployments are available; the seconds it took."""
    api = cluster.api_client()
    deployments = ["calico-kube-controllers", *(["calico-typha"] if typha else [])]
    return wait_for(
        f"calico-node on {cluster.nodes} nodes and {', '.join(deployments)} available",
        lambda: (
            daemonset_settled(api, "kube-system", "calico-node", cluster.nodes)
            and all(deployment_settled(api, "kube-system", name) for name in deployments)
        ),
        timeout,
    )


def start_cluster(
    binaries: Binaries,
    pki: Pki,
    etcd: Etcd,
    folder: Path,
    started: list,
    *,
    decoy: ApiServer | None = None,
    typha: bool = False,
    calico: bool = True,
    canal: bool = False,
    monitoring_crds: bool = True,
    nodes: int = 0,
    real_calico: bool = False,
    detached: bool = False,
) -> Cluster:
    """A fresh API server set up the way a user's cluster is; its processes are appended to ``started``.

    ``nodes``: that many KWOK nodes, with kube-scheduler, on which Calico's workloads really run.
    ``real_calico``: the nodes and pods have addresses in the pod network (tests/e2e/pod_network.py), where
    the pipeline runs the real Felix, Typha and kube-controllers for Calico's pods (else stand-ins on loopback).
    ``decoy``: an API server that is the kubeconfig's current context, which nothing may touch.
    """
    number = next(CLUSTER_NUMBERS)
    api = ApiServer(f"e2e-{number}", binaries, pki, etcd, folder, detached=detached)
    started.append(api)
    started.append(ControllerManager(api, binaries, pki, folder, nodes=bool(nodes), detached=detached))
    if nodes:
        started.append(Scheduler(api, binaries, folder, detached=detached))
        started.append(Kwok(api, binaries, folder, detached=detached))
    kubeconfig = folder / "kubeconfig"
    write_kubeconfig(kubeconfig, [api, *([decoy] if decoy else [])], current=decoy.name if decoy else api.name)
    # The stacks name their context "e2e": rename this cluster's context to it.
    config = json.loads(kubeconfig.read_text())
    for context in config["contexts"]:
        if context["name"] == api.name:
            context["name"] = "e2e"
    if decoy is None:
        config["current-context"] = "e2e"
    kubeconfig.write_text(json.dumps(config, indent=2))
    cluster = Cluster(
        api=api, decoy=decoy, kubeconfig=kubeconfig, binaries=binaries, folder=folder, nodes=nodes,
        real_calico=real_calico,
    )  # fmt: skip
    if nodes:
        add_simulated_nodes(cluster, nodes)
    if calico:
        install_calico(cluster, typha=typha, canal=canal)
        seed_calico_configuration(cluster)
    if monitoring_crds:
        install_prometheus_operator_crds(cluster)
    if calico and nodes:
        wait_for_calico_workloads(cluster, typha=typha)
    return cluster


@pytest.fixture
def make_cluster(binaries, pki, etcd, decoy, tmp_path):
    started: list = []

    def build(**options) -> Cluster:
        return start_cluster(binaries, pki, etcd, tmp_path, started, decoy=decoy, **options)

    yield build
    stop_all(started)


@dataclass
class Pipeline:
    """prometheus-operator, a Prometheus on what it generates, and Calico's processes for one cluster: the real
    ones (tests/e2e/calico_processes.py) on a ``real_calico`` cluster, else the stand-ins."""

    cluster: Cluster
    monitoring: MonitoringPipeline | None  # None when it runs as a process of its own (make demo)
    calico_state: Path
    prometheus_url: str

    @property
    def prometheus(self):
        return self.monitoring.prometheus

    def state(self) -> dict[str, Any]:
        return json.loads(self.calico_state.read_text())

    def listeners(self) -> list[dict[str, Any]]:
        """What serves /metrics on a Calico pod's address now."""
        return self.state()["listeners"]

    def processes(self) -> list[dict[str, Any]]:
        """The real processes running for Calico's pods (empty with the stand-ins)."""
        return self.state().get("processes", [])


class CalicoProcessesRun(Process):
    """tests/e2e/calico_processes.py; stopping it checks that it removed every process and namespace it made."""

    def __init__(self, name: str, argv: list[str], folder: Path, env: dict[str, str], state: Path, **options):
        super().__init__(name, argv, folder, env=env, **options)
        self.state = state

    def stop(self) -> None:
        super().stop()
        if self.popen.returncode != 0:
            raise AssertionError(f"{self.name} ended with {self.popen.returncode}; see {self.log}")
        state = json.loads(self.state.read_text())
        assert state.get("leftovers") == [], f"{self.name} left behind: {state.get('leftovers')}"
        alive = [pid for pid in state.get("pids", []) if runs_calico(pid)]
        assert not alive, f"Calico processes {alive} still running after {self.name} stopped"


def stop_all(started: list) -> None:
    """Stops everything in ``started``, last first, every one of them even when stopping one fails (the check
    of the real Calico processes fails the scenario if something was left); then raises the first failure."""
    failures = []
    for process in reversed(started):
        try:
            process.stop()
        except Exception as error:  # the rest must still be stopped
            failures.append(error)
    if failures:
        raise failures[0]


def runs_calico(pid: int) -> bool:
    """Whether process ``pid`` exists and runs one of the real Calico binaries."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(Path(part.decode(errors="replace")).name.startswith("calico-") for part in command)


def start_pipeline(
    binaries: Binaries,
    cluster: Cluster,
    folder: Path,
    started: list,
    *,
    selector: dict[str, str] | None = None,
    scrape_interval: str = "2s",
    detached: bool = False,
    prometheus_port: int | None = None,
) -> Pipeline:
    """prometheus-operator and a Prometheus resource selecting ``release: kube-prometheus-stack``, Prometheus
    on what the operator generates (in this process, or detached as its own), and the Calico stand-ins."""
    kubeconfig = cluster.admin_kubeconfig
    name = cluster.api.name
    operator_env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    argv = operator_argv(binaries.prometheus_operator, free_port())
    started.append(Process(f"{name}-prometheus-operator", argv, folder, env=operator_env, detached=detached))
    resource = prometheus_resource(
        kubeconfig, selector or {"release": "kube-prometheus-stack"}, scrape_interval=scrape_interval
    )
    cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(resource))
    python_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if cluster.real_calico:
        state = folder / "calico-processes.json"
        argv = [
            sys.executable, "-m", "tests.e2e.calico_processes", f"--kubeconfig={kubeconfig}",
            f"--slot={address_slot()}", f"--bin={binaries.calico_felix.parent}", f"--state={state}",
            f"--folder={folder / 'calico-processes'}",
        ]  # fmt: skip
        started.append(
            CalicoProcessesRun(f"{name}-calico-processes", argv, folder, python_env, state, detached=detached)
        )
        wait_for("the Calico processes' state file", state.exists, 30, interval=0.2)
    else:
        state = folder / "standins.json"
        argv = [sys.executable, "-m", "tests.e2e.calico_standins", f"--kubeconfig={kubeconfig}", f"--state={state}"]
        started.append(Process(f"{name}-calico-standins", argv, folder, env=python_env, detached=detached))
        wait_for("the Calico stand-ins' state file", state.exists, 30, interval=0.2)
    workdir = folder / "prometheus"
    if detached:
        port = prometheus_port or free_port()
        argv = [
            sys.executable, "-m", "tests.e2e.prometheus_pipeline", f"--kubeconfig={kubeconfig}",
            f"--workdir={workdir}", f"--port={port}", f"--prometheus={binaries.prometheus}",
            f"--promtool={binaries.promtool}",
        ]  # fmt: skip
        started.append(Process(f"{name}-prometheus-pipeline", argv, folder, env=python_env, detached=True))
        return Pipeline(cluster, None, state, f"http://127.0.0.1:{port}")
    monitoring = MonitoringPipeline(
        cluster.api_client(), workdir, binaries.prometheus, binaries.promtool, prometheus_port or free_port()
    )
    started.append(monitoring)
    return Pipeline(cluster, monitoring, state, monitoring.prometheus.url)


@pytest.fixture
def make_pipeline(binaries, tmp_path):
    started: list = []

    def build(cluster: Cluster, **options) -> Pipeline:
        return start_pipeline(binaries, cluster, tmp_path, started, **options)

    yield build
    stop_all(started)


@pytest.fixture
def calico_etcd(binaries, pki, tmp_path):
    server_cert, server_key = pki.issue("calico-etcd", "/CN=calico-etcd", server=True)
    client_cert, client_key = pki.issue("calico-etcd-client", "/CN=calicoctl")
    tls = (pki.ca, server_cert, server_key)
    server = Etcd("calico-etcd", binaries.etcd, tmp_path, tls=tls, client=(client_cert, client_key))
    server.client_cert, server.client_key = client_cert, client_key
    yield server
    server.stop()


def leftover_files(stack: Stack) -> list[str]:
    """What the run left in its TMPDIR, apart from the kubernetes provider's own kubeconfig copies.

    pulumi-kubernetes writes the resolved kubeconfig to $TMPDIR/kubeconfig<random> each time it
    starts and never removes it (provider/pkg/provider/util.go writeKubeconfigToFile). That is
    the provider's, not this program's; bin/pulumi-up gives each run a private TMPDIR it removes.
    """
    folder = stack.project.parent / "tmp"
    return sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and not p.name.startswith("kubeconfig")
    )


def etcd_env(etcd, pki) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "DATASTORE_TYPE": "etcdv3",
        "ETCD_ENDPOINTS": etcd.endpoint,
        "ETCD_KEY_FILE": str(etcd.client_key),
        "ETCD_CERT_FILE": str(etcd.client_cert),
        "ETCD_CA_CERT_FILE": str(pki.ca),
    }


@dataclass
class Stack:
    """The program copied into a folder of its own, driven through the real Pulumi CLI."""

    name: str
    project: Path
    env: dict[str, str]
    binaries: Binaries
    scenario: str
    log: list[str] = field(default_factory=list)

    def _program_command(self, args: tuple[str, ...]) -> list[str]:
        """The CLI serving this program (tests/e2e/pulumi_host.py) for a command that runs it."""
        host = [sys.executable, str(ROOT / "tests/e2e/pulumi_host.py"), str(self.project), str(self.binaries.pulumi)]
        return [*host, *args]

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        program_commands = {"up", "preview", "destroy", "refresh"}
        argv = self._program_command(args) if args[0] in program_commands else [str(self.binaries.pulumi), *args]
        started = time.monotonic()
        result = subprocess.run(
            argv, cwd=self.project, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        elapsed = time.monotonic() - started
        if args[0] in program_commands:
            TIMINGS.append((self.scenario, args[0], elapsed))
        self.log.append(
            f"$ pulumi {' '.join(args)}  ({elapsed:.1f} s, exit {result.returncode})\n{result.stdout}{result.stderr}"
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def start(self, *args: str) -> subprocess.Popen:
        """A program command in the background (for signals); its output goes to the stack's log folder."""
        output = (self.project.parent / f"pulumi-{args[0]}-{len(self.log)}.log").open("w")
        self.log.append(f"$ pulumi {' '.join(args)}  (background, output in {output.name})")
        return subprocess.Popen(
            self._program_command(args), cwd=self.project, env=self.env, stdout=output, stderr=subprocess.STDOUT
        )

    def config_set(self, key: str, value: str, *, secret: bool = False, path: bool = False) -> None:
        flags = (["--secret"] if secret else []) + (["--path"] if path else [])
        # The value comes on stdin, so no secret ever appears on a command line.
        self.run_stdin(["config", "set", *flags, key, "--stack", self.name], value)

    def run_stdin(self, args: list[str], value: str) -> None:
        result = subprocess.run(
            [str(self.binaries.pulumi), *args], input=value, cwd=self.project, env=self.env,
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise AssertionError(f"pulumi {' '.join(args)} failed: {result.stderr}")

    def up(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run("up", "--yes", "--non-interactive", "--skip-preview", "--stack", self.name, *extra, check=check)

    def preview(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run("preview", "--non-interactive", "--stack", self.name, *extra, check=check)

    def destroy(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(
            "destroy", "--yes", "--non-interactive", "--skip-preview", "--stack", self.name, *extra, check=check
        )

    def export(self) -> str:
        return self.run("stack", "export", "--stack", self.name).stdout

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.run("stack", "output", "--json", "--stack", self.name).stdout)


def copy_program(source: Path, files: tuple[str, ...], project: Path) -> None:
    for item in files:
        if (source / item).is_dir():
            shutil.copytree(source / item, project / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source / item, project / item)


def prepare_stack(
    binaries: Binaries,
    pulumi_home: Path,
    folder: Path,
    cluster: Cluster,
    config: dict[str, Any],
    name: str = "e2e",
    scenario: str = "",
    *,
    source: Path = ROOT,
    files: tuple[str, ...] = PROGRAM_FILES,
) -> Stack:
    """The program (this tree's, or ``files`` of ``source``) copied into ``folder``/project, with a stack
    of its own on a file backend in ``folder``/state."""
    project = folder / "project"
    if not project.exists():
        project.mkdir()
        copy_program(source, files, project)
        (folder / "state").mkdir()
        (folder / "tmp").mkdir()
    venv_bin = Path(sys.executable).parent
    # The CLI refuses to install a bundled language host (yaml) into a Pulumi home: it finds it on PATH.
    language_dirs = [binaries.pulumi_language_yaml.parent]
    tool_dirs = [binaries.pulumi.parent, *language_dirs, binaries.calicoctl.parent, binaries.kubectl.parent, venv_bin]
    env = {
        "PATH": os.pathsep.join([*map(str, tool_dirs), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(folder / "home"),
        "TMPDIR": str(folder / "tmp"),
        "PULUMI_HOME": str(pulumi_home),
        "PULUMI_BACKEND_URL": f"file://{folder / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
        "PULUMI_SKIP_CONFIRMATIONS": "true",
        # The ambient cluster is the decoy: the program must only ever use the stack's context.
        "KUBECONFIG": str(cluster.kubeconfig),
    }
    stack = Stack(name, project, env, binaries, scenario=scenario)
    stack_file = {"config": {**config, "kubernetes:kubeconfig": str(cluster.kubeconfig)}}
    (project / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(stack_file, sort_keys=True))
    stack.run("stack", "init", name, "--secrets-provider", "passphrase")
    return stack


@pytest.fixture
def make_stack(binaries, pulumi_home, tmp_path, request):
    def build(cluster: Cluster, config: dict[str, Any], name: str = "e2e") -> Stack:
        stack = prepare_stack(binaries, pulumi_home, tmp_path, cluster, config, name, scenario=request.node.name)
        request.node.stash_stack = stack
        return stack

    return build


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    stack = getattr(item, "stash_stack", None)
    if report.failed and stack is not None:
        report.sections.append(("pulumi runs", "\n".join(stack.log)[-20000:]))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Scenarios on parallel workers (``-n N``, the default ``--dist load``): see tests/e2e/scheduling.py."""
    if config.getvalue("dist") != "load":
        return None
    from tests.e2e.scheduling import ScenarioScheduling

    return ScenarioScheduling(config, log)


def pytest_sessionfinish(session) -> None:
    """A pytest-xdist worker hands its measurements to the controller (xdist sends them after this hook)."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput.update(for_controller())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    add_from_worker(getattr(node, "workeroutput", {}))


def pytest_terminal_summary(terminalreporter):
    passed = len(terminalreporter.stats.get("passed", []))
    failed = len(terminalreporter.stats.get("failed", []))
    for line in summary(passed, failed):
        terminalreporter.write_line(line)
