"""prometheus-operator for real, and a Prometheus running the configuration it generates.

The operator (built from its Go module) watches the local API server like it watches a
cluster: a ``Prometheus`` resource that selects monitors and rules by the ``release``
label, as kube-prometheus-stack does, and the PodMonitors, ServiceMonitors and
PrometheusRules the program creates. It writes the scrape configuration into the Secret
``prometheus-<name>`` (``prometheus.yaml.gz``) and the rules into ConfigMaps
``prometheus-<name>-rulefiles-<n>``, for a Prometheus pod that KWOK only pretends to run.

``ConfigSync`` does what that pod's config-reloader does: it reads the Secret and the
rule ConfigMaps, writes them where a Prometheus on this machine reads them (rule paths
under /etc/prometheus/rules/ become a folder of the run's), checks the result with
``promtool check config`` and makes Prometheus reload (SIGHUP). Prometheus' Kubernetes
service discovery then talks to the local API server (``spec.apiserverConfig``) and
scrapes the simulated pods on their 127.0.0.0/8 addresses. The Prometheus is the one
tests/e2e/build-binaries.sh builds (Debian's is built without Kubernetes service discovery).

    python -m tests.e2e.prometheus_pipeline --kubeconfig admin.kubeconfig --workdir DIR --port 9090
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.e2e.calico_standins import ApiClient  # noqa: E402
from tests.e2e.cluster import versions  # noqa: E402
from tests.support.prometheus_harness import Prometheus  # noqa: E402

NAMESPACE = "monitoring"
NAME = "e2e"
OPERATOR_RULES_DIR = "/etc/prometheus/rules/"
# The Prometheus build-binaries.sh builds and the scenarios run (Debian's has no Kubernetes service discovery), from
# versions.env; the operator generates its configuration for this version.
PROMETHEUS_VERSION = versions()["PROMETHEUS_VERSION"]
# The environment of the first (only) pod of the StatefulSet the operator would run: its shard and name.
POD_ENV = {"SHARD": "0", "POD_NAME": f"prometheus-{NAME}-0"}


def prometheus_resource(
    kubeconfig: Path, selector: dict[str, str], *, scrape_interval: str = "2s", evaluation_interval: str = "1s"
) -> dict[str, Any]:
    """A Prometheus resource as kube-prometheus-stack sets one up, reaching the API server named by ``kubeconfig``."""
    config = json.loads(kubeconfig.read_text())
    context = next(c["context"] for c in config["contexts"] if c["name"] == config["current-context"])
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
    match = {"matchLabels": dict(selector)}
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Prometheus",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {
            "version": PROMETHEUS_VERSION,
            "replicas": 1,
            "serviceAccountName": "default",
            "scrapeInterval": scrape_interval,
            "evaluationInterval": evaluation_interval,
            "podMonitorSelector": match,
            "podMonitorNamespaceSelector": {},
            "serviceMonitorSelector": match,
            "serviceMonitorNamespaceSelector": {},
            "ruleSelector": match,
            "ruleNamespaceSelector": {},
            # No external labels: the series look as a single Prometheus stores them.
            "replicaExternalLabelName": "",
            "prometheusExternalLabelName": "",
            "apiserverConfig": {
                "host": cluster["server"],
                "tlsConfig": {
                    "caFile": cluster["certificate-authority"],
                    "certFile": user["client-certificate"],
                    "keyFile": user["client-key"],
                },
            },
        },
    }


def active_targets(prometheus_url: str, job: str | None = None) -> list[dict[str, Any]]:
    """Prometheus' active targets (/api/v1/targets), of one job when ``job`` is given."""
    with urllib.request.urlopen(f"{prometheus_url}/api/v1/targets?state=active", timeout=10) as response:
        targets = json.loads(response.read())["data"]["activeTargets"]
    return [t for t in targets if job is None or t["labels"].get("job") == job]


def operator_argv(binary: Path, port: int) -> list[str]:
    return [str(binary), f"--web.listen-address=127.0.0.1:{port}", "--log-level=info", "--kubelet-service="]


class ConfigSync:
    """Keeps a local Prometheus on the configuration and rules the operator generates."""

    def __init__(self, api: ApiClient, workdir: Path, promtool: Path) -> None:
        self.api, self.workdir, self.promtool = api, workdir, promtool
        self.config_file = workdir / "prometheus.yaml"
        self.rules_dir = workdir / "rules"
        self.status_file = workdir / "sync.json"
        self.config_file.write_text("global: {}\n")
        self.digest = ""
        self.generation = 0
        self.jobs: list[str] = []
        self.error = ""
        self.write_status()

    def read_generated(self) -> tuple[str, dict[str, dict[str, str]]] | None:
        secret = self.api.get(f"/api/v1/namespaces/{NAMESPACE}/secrets/prometheus-{NAME}")
        if secret is None or "prometheus.yaml.gz" not in secret.get("data", {}):
            return None
        text = gzip.decompress(base64.b64decode(secret["data"]["prometheus.yaml.gz"])).decode("utf-8")
        rules: dict[str, dict[str, str]] = {}
        for pattern in yaml.safe_load(text).get("rule_files") or []:
            name = pattern.removeprefix(OPERATOR_RULES_DIR).split("/")[0]
            configmap = self.api.get(f"/api/v1/namespaces/{NAMESPACE}/configmaps/{name}")
            rules[name] = dict((configmap or {}).get("data") or {})
        return text, rules

    def localise(self, text: str) -> str:
        """The operator's configuration as the pod's config-reloader hands it to Prometheus: the
        ``$(NAME)`` variables of the pod expanded, rule paths pointed at this run's folder."""
        for name, value in POD_ENV.items():
            text = text.replace(f"$({name})", value)
        return text.replace(OPERATOR_RULES_DIR, f"{self.rules_dir}/")

    def sync(self, prometheus: Prometheus) -> bool:
        generated = self.read_generated()
        if generated is None:
            return False
        text, rules = generated
        digest = hashlib.sha256(json.dumps([text, rules], sort_keys=True).encode()).hexdigest()
        if digest == self.digest:
            return False
        shutil.rmtree(self.rules_dir, ignore_errors=True)
        for name, files in rules.items():
            (self.rules_dir / name).mkdir(parents=True)
            for file_name, content in files.items():
                (self.rules_dir / name / file_name).write_text(content)
        candidate = self.workdir / "prometheus.next.yaml"
        candidate.write_text(self.localise(text))
        check = subprocess.run(
            [str(self.promtool), "check", "config", str(candidate)], capture_output=True, text=True, check=False
        )
        self.digest = digest
        if check.returncode != 0:
            self.error = f"promtool check config failed:\n{check.stdout}{check.stderr}"
            self.write_status()
            return False
        os.replace(candidate, self.config_file)
        prometheus.process.send_signal(signal.SIGHUP)
        self.generation += 1
        self.jobs = [job["job_name"] for job in yaml.safe_load(text).get("scrape_configs") or []]
        self.error = ""
        self.write_status()
        return True

    def write_status(self) -> None:
        status = {"generation": self.generation, "jobs": self.jobs, "error": self.error}
        temporary = self.status_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(status, indent=1))
        os.replace(temporary, self.status_file)


class MonitoringPipeline:
    """Prometheus on a loopback port, kept on what the operator generates by a sync thread."""

    def __init__(self, api: ApiClient, workdir: Path, prometheus: Path, promtool: Path, port: int | None = None):
        workdir.mkdir(parents=True, exist_ok=True)
        self.sync = ConfigSync(api, workdir, promtool)
        self.prometheus = Prometheus(
            str(prometheus), self.sync.config_file, workdir / "data", workdir / "prometheus.log", port=port
        )
        self.prometheus.wait_ready(time.monotonic() + 60)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="operator-config-sync", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync.sync(self.prometheus)
            except (OSError, ValueError) as error:
                self.sync.error = str(error)
            self._stop.wait(1)

    def wait_for_jobs(self, jobs: list[str], timeout: float = 90) -> None:
        """Until Prometheus runs a generated configuration that has every scrape job named (prefixes)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(any(j.startswith(job) for j in self.sync.jobs) for job in jobs):
                return
            time.sleep(0.5)
        raise TimeoutError(
            f"prometheus-operator generated no scrape jobs {jobs} in {timeout:.0f} s "
            f"(jobs: {self.sync.jobs}, sync error: {self.sync.error or 'none'})"
        )

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.prometheus.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--prometheus", type=Path, required=True)
    parser.add_argument("--promtool", type=Path, required=True)
    args = parser.parse_args(argv)
    pipeline = MonitoringPipeline(ApiClient(args.kubeconfig), args.workdir, args.prometheus, args.promtool, args.port)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    stopping.wait()
    pipeline.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
