"""Stand-ins for Felix, Typha and calico-kube-controllers on KWOK's simulated nodes.

KWOK runs no containers, so nothing would answer on a calico-node pod's address. This
process plays the part of the three Calico processes where this program is concerned:
it watches the live configuration through the API server, the way each of them reads
it, and serves ``/metrics`` on the pod's own address only while metrics are on there:

* Felix (every Running calico-node pod, host network: the node's address): while
  FelixConfiguration ``default`` has ``prometheusMetricsEnabled: true``, on
  ``prometheusMetricsPort`` (Felix's default 9091), bound to ``prometheusMetricsHost``
  when that is set (so a host other than the pod's address is not reachable there);
* Typha (calico-typha pods): while the container's ``TYPHA_PROMETHEUSMETRICSENABLED``
  is true, on ``TYPHA_PROMETHEUSMETRICSPORT`` (default 9093);
* kube-controllers: while KubeControllersConfiguration ``default`` has a non-zero
  ``prometheusMetricsPort``.

A change of the port (or turning metrics off) stops the listener, as the real
processes restart; a new listener starts its counters from zero (a counter reset).
What is served is the realistic quiet exposition of tests/fixtures/metrics/targets/,
with its counters growing per scrape. The current listeners are written to a JSON
state file after every change, for the tests and ``make demo`` to read.

    python -m tests.e2e.calico_standins --kubeconfig admin.kubeconfig --state standins.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import ssl
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import astuple, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.e2e.calico_workloads import container_env  # noqa: E402
from tests.support.expositions import Exposition, load_expositions  # noqa: E402
from tests.support.prometheus_harness import send_exposition  # noqa: E402

CALICO_APPS = ("calico-node", "calico-typha", "calico-kube-controllers")
FELIX_CONFIGURATION = "/apis/crd.projectcalico.org/v1/felixconfigurations/default"
KUBE_CONTROLLERS_CONFIGURATION = "/apis/crd.projectcalico.org/v1/kubecontrollersconfigurations/default"
DEFAULT_FIXTURES = {
    "felix": "felix-iptables-quiet",
    "typha": "typha-quiet",
    "kube-controllers": "kube-controllers-quiet",
}
POLL_SECONDS = 0.5


class ApiClient:
    """GETs against the API server named by a kubeconfig with client-certificate credentials."""

    def __init__(self, kubeconfig: Path) -> None:
        config = json.loads(kubeconfig.read_text())
        context = next(c["context"] for c in config["contexts"] if c["name"] == config["current-context"])
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        self.server = cluster["server"]
        self.tls = ssl.create_default_context(cafile=cluster["certificate-authority"])
        self.tls.load_cert_chain(user["client-certificate"], user["client-key"])

    def get(self, path: str) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"{self.server}{path}", timeout=10, context=self.tls) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise


@dataclass(frozen=True)
class Listener:
    """One metrics endpoint a Calico process would serve right now."""

    component: str  # felix, typha or kube-controllers
    pod: str
    node: str
    host: str
    port: int


def is_true(text: str | None) -> bool:
    return (text or "").strip().lower() in ("true", "1", "yes")


def desired_listeners(
    felix: dict[str, Any] | None, controllers: dict[str, Any] | None, pods: list[dict[str, Any]]
) -> set[Listener]:
    """What the real processes would be serving, given their configuration and the pods that run."""
    felix_spec = (felix or {}).get("spec", {})
    controllers_spec = (controllers or {}).get("spec", {})
    wanted = set()
    for pod in pods:
        status, metadata = pod.get("status", {}), pod["metadata"]
        address = status.get("podIP")
        if status.get("phase") != "Running" or not address or metadata.get("deletionTimestamp"):
            continue
        app = metadata.get("labels", {}).get("k8s-app")
        where = {"pod": metadata["name"], "node": pod["spec"].get("nodeName", "")}
        if app == "calico-node" and felix_spec.get("prometheusMetricsEnabled") is True:
            host = felix_spec.get("prometheusMetricsHost") or address
            if host in (address, "0.0.0.0", "::"):  # another host is not reachable on the pod's address
                wanted.add(Listener("felix", **where, host=address, port=felix_spec.get("prometheusMetricsPort", 9091)))
        elif app == "calico-typha":
            env = container_env(pod, "calico-typha", {})  # Typha's metrics settings are plain values
            if is_true(env.get("TYPHA_PROMETHEUSMETRICSENABLED")):
                port = int(env.get("TYPHA_PROMETHEUSMETRICSPORT") or 9093)
                wanted.add(Listener("typha", **where, host=address, port=port))
        elif app == "calico-kube-controllers" and controllers_spec.get("prometheusMetricsPort", 0):
            port = int(controllers_spec["prometheusMetricsPort"])
            wanted.add(Listener("kube-controllers", **where, host=address, port=port))
    return wanted


class MetricsEndpoint:
    """An HTTP server on one address and port serving one exposition, its counters growing per scrape."""

    def __init__(self, listener: Listener, exposition: Exposition) -> None:
        self.listener = listener
        self.scrapes = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                endpoint.scrapes += 1
                send_exposition(self, exposition.render(endpoint.scrapes))

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((listener.host, listener.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class StandIns:
    def __init__(self, api: ApiClient, state_file: Path, fixtures: dict[str, str]) -> None:
        self.api, self.state_file = api, state_file
        expositions = load_expositions()
        self.expositions = {component: expositions[name] for component, name in fixtures.items()}
        self.endpoints: dict[Listener, MetricsEndpoint] = {}
        self.write_state()

    def pods(self) -> list[dict[str, Any]]:
        selector = urllib.parse.quote(f"k8s-app in ({','.join(CALICO_APPS)})")
        return (self.api.get(f"/api/v1/pods?labelSelector={selector}") or {}).get("items", [])

    def reconcile(self) -> None:
        wanted = desired_listeners(
            self.api.get(FELIX_CONFIGURATION), self.api.get(KUBE_CONTROLLERS_CONFIGURATION), self.pods()
        )
        changed = False
        for listener in set(self.endpoints) - wanted:
            self.endpoints.pop(listener).close()
            changed = True
        for listener in wanted - set(self.endpoints):
            try:
                self.endpoints[listener] = MetricsEndpoint(listener, self.expositions[listener.component])
                changed = True
            except OSError:  # the address is still held by an endpoint being closed: next round
                continue
        if changed:
            self.write_state()

    def write_state(self) -> None:
        listeners = [
            {**vars(listener), "scrapes": endpoint.scrapes}
            for listener, endpoint in sorted(self.endpoints.items(), key=lambda item: astuple(item[0]))
        ]
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps({"listeners": listeners}, indent=1, sort_keys=True))
        os.replace(temporary, self.state_file)

    def close(self) -> None:
        for endpoint in self.endpoints.values():
            endpoint.close()
        self.endpoints.clear()
        self.write_state()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, required=True, help="kubeconfig (client certificates)")
    parser.add_argument("--state", type=Path, required=True, help="JSON file listing the current listeners")
    for component, fixture in DEFAULT_FIXTURES.items():
        parser.add_argument(f"--{component}-fixture", default=fixture, help=f"exposition served (default {fixture})")
    args = parser.parse_args(argv)
    fixtures = {c: getattr(args, f"{c.replace('-', '_')}_fixture") for c in DEFAULT_FIXTURES}
    stand_ins = StandIns(ApiClient(args.kubeconfig), args.state, fixtures)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    while not stopping.is_set():
        try:
            stand_ins.reconcile()
        except (OSError, ValueError) as error:  # the API server is restarting or going away
            print(f"calico-standins: {error}", file=sys.stderr, flush=True)
        stopping.wait(POLL_SECONDS)
    stand_ins.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
