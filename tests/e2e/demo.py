"""`make demo`: the program working end to end on this machine, without a cluster.

    python -m tests.e2e.demo up [--nodes 5]     # what `make demo` runs
    python -m tests.e2e.demo down               # what `make demo-down` runs

``up`` starts, on loopback and from the e2e binary cache: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, KWOK with simulated nodes running Calico from its
own manifest (with Typha), prometheus-operator, a Prometheus on the configuration the
operator generates, and the real Felix, Typha and kube-controllers; then runs `pulumi up` of the example
Kubernetes-datastore stack with the real Pulumi CLI and prints the scrape targets and
where Prometheus is. Everything lives in ``.demo/`` (state, logs, certificates) and
keeps running after the command returns; ``down`` stops every process and removes it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.e2e.cluster import Binaries, Etcd, Pki  # noqa: E402
from tests.e2e.conftest import install_pulumi_home, prepare_stack, start_cluster, start_pipeline  # noqa: E402
from tests.e2e.prometheus_pipeline import active_targets  # noqa: E402
from tests.e2e.simulation import daemonset_settled, wait_for  # noqa: E402

DEMO_DIR = ROOT / ".demo"
PIDS_FILE = DEMO_DIR / "pids.json"
INTERVAL = "5s"


def demo_config() -> dict:
    config = yaml.safe_load((ROOT / "Pulumi.example-kdd.yaml").read_text())["config"]
    config["kubernetes:context"] = "e2e"
    config["calico-monitoring:podMonitor"] = {**config["calico-monitoring:podMonitor"], "interval": INTERVAL}
    config["calico-monitoring:typha"] = {"enabled": True}
    return config


def record(started: list) -> None:
    pids = [p.popen.pid for p in (getattr(item, "process", item) for item in started) if hasattr(p, "popen")]
    PIDS_FILE.write_text(json.dumps(pids))


def up(nodes: int) -> int:
    if DEMO_DIR.exists():
        print(f"demo: {DEMO_DIR} exists: a demo is running or was not removed; run `make demo-down` first")
        return 1
    binaries = Binaries.locate()
    DEMO_DIR.mkdir()
    started: list = []
    try:
        print(f"demo: control plane, {nodes} simulated nodes, Calico (calico-typha.yaml) ...", flush=True)
        pki = Pki(DEMO_DIR / "pki")
        etcd = Etcd("etcd", binaries.etcd, DEMO_DIR, detached=True)
        started.append(etcd)
        record(started)
        cluster = start_cluster(
            binaries, pki, etcd, DEMO_DIR, started, typha=True, nodes=nodes, real_calico=True, detached=True
        )
        record(started)
        print("demo: prometheus-operator, Prometheus, the real Felix, Typha and kube-controllers ...", flush=True)
        pipeline = start_pipeline(binaries, cluster, DEMO_DIR, started, scrape_interval=INTERVAL, detached=True)
        record(started)
        home = install_pulumi_home(binaries, DEMO_DIR / "pulumi-home")
        stack = prepare_stack(binaries, home, DEMO_DIR, cluster, demo_config(), name="demo")
        print("demo: pulumi up -s demo (the example-kdd stack, Typha on) ...", flush=True)
        result = stack.up()
        print(result.stdout)
        api = cluster.api_client()
        wait_for("the calico-node rollout", lambda: daemonset_settled(api, "kube-system", "calico-node", nodes), 300)

        def every_target_up() -> bool:
            targets = active_targets(pipeline.prometheus_url)
            return len(targets) >= nodes + 2 and all(t["health"] == "up" for t in targets)

        wait_for("every target up", every_target_up, 120)
    except BaseException:
        print("demo: failed; stopping what was started (logs in .demo/)", file=sys.stderr)
        down(remove=False)
        raise
    print("\nScrape targets (from Prometheus' /api/v1/targets):")
    for target in sorted(active_targets(pipeline.prometheus_url), key=lambda t: (t["labels"]["job"], t["scrapeUrl"])):
        labels = target["labels"]
        print(f"  {labels['job']:<36} {labels.get('pod', ''):<40} {target['scrapeUrl']:<36} {target['health']}")
    # The Prometheus built from its Go module has no web UI (its React assets are built with npm, outside
    # the module): what a person opens is its HTTP API.
    url = pipeline.prometheus_url
    print(f"\nPrometheus API: {url}/api/v1/targets   {url}/api/v1/alerts   {url}/api/v1/rules")
    print(f"  a query:      {url}/api/v1/query?query=up")
    print(f"kubectl:        {binaries.kubectl} --kubeconfig={cluster.kubeconfig} get pods -A -o wide")
    print("Remove it all: make demo-down")
    return 0


def down(remove: bool = True) -> int:
    pids = json.loads(PIDS_FILE.read_text()) if PIDS_FILE.exists() else []
    for pid in reversed(pids):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    if remove and DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)
    print(f"demo: stopped {len(pids)} processes" + (", removed .demo/" if remove else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("up", "down"))
    parser.add_argument("--nodes", type=int, default=5, help="simulated nodes (default 5)")
    args = parser.parse_args(argv)
    return up(args.nodes) if args.command == "up" else down()


if __name__ == "__main__":
    sys.exit(main())
