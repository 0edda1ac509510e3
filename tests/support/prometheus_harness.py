"""A fixture metrics server and a real Prometheus scraping it, for the dashboard query tests.

The server serves ``tests/fixtures/metrics/calico_metrics.prom`` one component
section per target, with counters growing at every scrape. Prometheus scrapes it
with target labels built the way prometheus-operator builds them for a
PodMonitor (``job`` = ``<namespace>/<podmonitor>``, plus ``namespace``, ``pod``,
``container``, ``endpoint``, ``instance``) and this project's ``node`` label,
and evaluates the recording rules this project deploys (``rule_files``), so
dashboard queries on recorded series can be run too.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "metrics" / "calico_metrics.prom"

_COMPONENT = re.compile(r"^# component: (?P<name>[\w-]+)\s*$")
_TYPE = re.compile(r"^# TYPE (?P<name>\S+) (?P<type>\w+)\s*$")
_VERIFIED = re.compile(r"^# verified: (?P<name>\S+) (?P<type>\w+) (?P<labels>\S+) (?P<source>.+)$")
_SAMPLE = re.compile(r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?P<labels>\{[^}]*\})?\s+(?P<value>\S+)(?P<rest>.*)$")


@dataclass(frozen=True)
class VerifiedFamily:
    name: str
    type: str
    labels: tuple[str, ...]
    source: str


def verified_families(path: Path = FIXTURE) -> dict[str, VerifiedFamily]:
    """The ``# verified:`` records at the top of the fixture: what was checked in Calico's source."""
    families = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _VERIFIED.match(line)
        if match:
            labels = () if match["labels"] == "-" else tuple(match["labels"].split(","))
            families[match["name"]] = VerifiedFamily(match["name"], match["type"], labels, match["source"].strip())
    return families


class FixtureMetrics:
    """The fixture file split by component, rendered for the n-th scrape of a target."""

    def __init__(self, path: Path = FIXTURE) -> None:
        self.sections: dict[str, list[str]] = {}
        current: list[str] | None = None
        for line in path.read_text(encoding="utf-8").splitlines():
            match = _COMPONENT.match(line)
            if match:
                current = self.sections.setdefault(match["name"], [])
            elif current is not None:
                current.append(line)
        self.types: dict[str, dict[str, str]] = {
            component: {m["name"]: m["type"] for m in map(_TYPE.match, lines) if m}
            for component, lines in self.sections.items()
        }

    def sample_family(self, component: str, sample_name: str) -> tuple[str, str]:
        """(family, type) a sample line belongs to; summary and histogram series map to their family."""
        types = self.types[component]
        if sample_name in types:
            return sample_name, types[sample_name]
        for suffix in ("_sum", "_count", "_bucket"):
            base = sample_name.removesuffix(suffix)
            if sample_name.endswith(suffix) and types.get(base) in ("summary", "histogram"):
                return base, types[base]
        raise KeyError(f"{component}: sample {sample_name} has no # TYPE line")

    def grows(self, component: str, sample_name: str) -> bool:
        family, kind = self.sample_family(component, sample_name)
        return kind == "counter" or (sample_name != family and kind in ("summary", "histogram"))

    def render(self, component: str, scrape: int) -> str:
        lines = []
        for line in self.sections[component]:
            match = _SAMPLE.match(line)
            if match and self.grows(component, match["name"]):
                value = float(match["value"]) * scrape
                line = f"{match['name']}{match['labels'] or ''} {value!r}{match['rest']}"
            lines.append(line)
        return "\n".join(lines).strip() + "\n"

    def families(self, component: str) -> set[str]:
        return set(self.types[component])


def send_exposition(handler: BaseHTTPRequestHandler, text: str) -> None:
    """Answer a scrape with ``text`` in the classic text format, as Calico's processes do."""
    body = text.encode("utf-8")
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class MetricsServer:
    """Serves ``/metrics/<component>/<pod>`` on 127.0.0.1; each path counts its own scrapes."""

    def __init__(self, metrics: FixtureMetrics) -> None:
        self.metrics = metrics
        self.scrapes: Counter[str] = Counter()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = self.path.split("?")[0].strip("/").split("/")
                if len(parts) != 3 or parts[0] != "metrics" or parts[1] not in server.metrics.sections:
                    self.send_error(404)
                    return
                with server._lock:
                    server.scrapes[self.path] += 1
                    scrape = server.scrapes[self.path]
                send_exposition(self, server.metrics.render(parts[1], scrape))

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fixture-metrics", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@dataclass(frozen=True)
class Target:
    """One pod a PodMonitor would select."""

    job: str  # what prometheus-operator makes of <namespace>/<PodMonitor name>
    component: str  # fixture section
    pod: str
    node: str
    pod_ip: str
    port: int
    container: str
    namespace: str = "calico-system"
    port_name: str = "http-metrics"
    add_node_label: bool = True

    @property
    def path(self) -> str:
        return f"/metrics/{self.component}/{self.pod}"


def scrape_config(
    targets: list[Target], server_port: int, rule_files: list[Path] | tuple[Path, ...] = ()
) -> dict[str, Any]:
    """A Prometheus configuration with one scrape job per distinct ``job``, evaluating ``rule_files`` every second."""
    jobs: dict[str, list[Target]] = {}
    for target in targets:
        jobs.setdefault(target.job, []).append(target)
    scrape_configs = []
    for job, members in jobs.items():
        add_node = {t.add_node_label for t in members}
        if len(add_node) != 1:
            raise ValueError(f"{job}: all targets of a job must agree on the node label")
        relabel = [
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_pod_container_port_name"], "target_label": "endpoint"},
            {
                "source_labels": ["__meta_kubernetes_pod_ip", "__meta_kubernetes_pod_container_port_number"],
                "separator": ":",
                "target_label": "instance",
            },
            {"target_label": "job", "replacement": job},
        ]
        if add_node.pop():
            relabel.append({"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "node"})
        scrape_configs.append(
            {
                "job_name": f"podMonitor/{job}/0",
                "honor_labels": False,
                "static_configs": [
                    {
                        "targets": [f"127.0.0.1:{server_port}"],
                        "labels": {
                            "__metrics_path__": t.path,
                            "__meta_kubernetes_namespace": t.namespace,
                            "__meta_kubernetes_pod_name": t.pod,
                            "__meta_kubernetes_pod_node_name": t.node,
                            "__meta_kubernetes_pod_container_name": t.container,
                            "__meta_kubernetes_pod_container_port_name": t.port_name,
                            "__meta_kubernetes_pod_container_port_number": str(t.port),
                            "__meta_kubernetes_pod_ip": t.pod_ip,
                        },
                    }
                    for t in members
                ],
                "relabel_configs": relabel,
            }
        )
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
    }
    if rule_files:
        config["rule_files"] = [str(path) for path in rule_files]
    config["scrape_configs"] = scrape_configs
    return config


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrometheusError(RuntimeError):
    pass


class Prometheus:
    """A running ``prometheus`` process and a small client for its HTTP API."""

    def __init__(self, binary: str, config_file: Path, data_dir: Path, log_file: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = log_file
        self._log = log_file.open("wb")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={data_dir}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
                "--log.level=warn",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()

    def _get(self, path: str, params: dict[str, Any] | None = None, timeout: float = 10) -> Any:
        url = f"{self.url}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as err:
            body = err.read()
            try:
                payload = json.loads(body)
            except ValueError:
                raise PrometheusError(f"HTTP {err.code} from {path}: {body[:300]!r}") from None
            raise PrometheusError(f"{payload.get('errorType')}: {payload.get('error')}") from None
        payload = json.loads(body)
        if payload.get("status") != "success":
            raise PrometheusError(f"{payload.get('errorType')}: {payload.get('error')}")
        return payload["data"]

    def wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PrometheusError(f"prometheus exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                if response.status == 200:
                    return
            time.sleep(0.2)
        raise PrometheusError(f"prometheus was not ready in time:\n{self.log_tail()}")

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._get("/api/v1/query", params)
        if data["resultType"] != "vector":
            raise PrometheusError(f"expected an instant vector, got {data['resultType']}")
        return data["result"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        data = self._get(
            "/api/v1/query_range", {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step}s"}
        )
        return data["result"]

    def wait_for_samples(self, targets: list[Target], samples: int, deadline: float) -> None:
        """Until every target has been scraped successfully at least ``samples`` times."""
        expected = {(t.job, t.pod) for t in targets}
        counts: dict[tuple[str, str], float] = {}
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PrometheusError(f"prometheus exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(PrometheusError, OSError):
                result = self.query("count_over_time(up[5m]) and on (job, pod) (up == 1)")
                counts = {(r["metric"]["job"], r["metric"]["pod"]): float(r["value"][1]) for r in result}
                if all(counts.get(key, 0) >= samples for key in expected):
                    return
            time.sleep(0.5)
        raise PrometheusError(
            f"not every target had {samples} successful scrapes in time; samples per target: {counts}\n"
            f"{self.log_tail()}"
        )

    def wait_for_recorded_series(self, expected: set[tuple[str, str]], deadline: float) -> None:
        """Until every (record name, job) in ``expected`` has a current sample."""
        found: set[tuple[str, str]] = set()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PrometheusError(f"prometheus exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(PrometheusError, OSError):
                result = self.query('count by (__name__, job) ({__name__=~".+:.+"})')
                found = {(r["metric"]["__name__"], r["metric"].get("job", "")) for r in result}
                if expected <= found:
                    return
            time.sleep(0.5)
        raise PrometheusError(
            f"recorded series missing after the deadline: {sorted(expected - found)}\n"
            f"rule evaluation: {self.rule_health()}\n{self.log_tail()}"
        )

    def rule_health(self) -> list[str]:
        """``record: health (last error)`` of every recording rule Prometheus loaded."""
        try:
            data = self._get("/api/v1/rules", {"type": "record"})
        except (PrometheusError, OSError) as err:
            return [f"cannot list rules: {err}"]
        return [
            f"{rule['name']}: {rule.get('health')} {rule.get('lastError', '')}".rstrip()
            for group in data["groups"]
            for rule in group["rules"]
        ]


def is_finite(value: str) -> bool:
    return math.isfinite(float(value))
