"""Measure what one Grafana load of the Felix dashboard fetches from a 2,000-node Prometheus.

Not a test: run ``.venv/bin/python -m tests.support.measure_load [nodes] [old-dashboard.json]``.
It serves the quiet iptables Felix fixture (only the families the dashboard queries) as
``nodes`` scrape targets of one job, lets a real Prometheus scrape them and evaluate the
recording rules, then runs every panel query of the shipped Felix dashboard as Grafana
would for the last 30 minutes (a range query, step 15s, ``$node`` = All, ``$top_n`` = 10)
and prints, per dashboard, the series returned and the samples Prometheus read. Given an
older felix.json it measures that too, for comparison.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

import yaml

from alerts import build_rule_groups
from dashboards.loading import shipped_dashboards
from tests.support.expositions import load_expositions, load_registry
from tests.support.grafana import panel_queries, substitute
from tests.support.prometheus_harness import MetricsServer, Prometheus, Target, scrape_config

JOB = "monitoring/felix"
VALUES = {"job": JOB, "node": ".*", "__rate_interval": "1m", "__interval": "15s", "__range": "30m"}


def main() -> None:
    nodes = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    older = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    felix = shipped_dashboards()["felix.json"]
    dashboards = {"shipped felix.json": felix}
    if older:
        dashboards[f"older {older.name}"] = json.loads(older.read_text())
    exprs = [q.expr for d in dashboards.values() for q in panel_queries("felix.json", d)]
    registry = load_registry()
    used = {name for name in registry if any(name in e for e in exprs)} | {"process_start_time_seconds"}
    exposition = load_expositions()["felix-iptables-quiet"]

    def wanted(line: str) -> bool:
        if line.startswith(("# HELP ", "# TYPE ")):
            return line.split()[2] in used
        if not line or line.startswith("#"):
            return False
        return exposition.family_of(line.split("{")[0].split()[0]) in used

    exposition.lines = [line for line in exposition.lines if wanted(line)]

    class Sections:
        sections: ClassVar[dict] = {"felix": exposition}

        @staticmethod
        def render(_component: str, scrape: int) -> str:
            return exposition.render(scrape)

    server = MetricsServer(Sections)  # type: ignore[arg-type]
    workdir = Path(tempfile.mkdtemp(prefix="felix-load-"))
    targets = [
        Target(JOB, "felix", f"calico-node-{i:05d}", f"node-{i:05d}", f"10.{i // 250}.{i % 250}.1", 9091, "calico-node")
        for i in range(nodes)
    ]
    rules = workdir / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": build_rule_groups({"felix": JOB}, components=["felix"])}))
    config = scrape_config(targets, server.port, [rules])
    config["global"] = {"scrape_interval": "15s", "scrape_timeout": "10s", "evaluation_interval": "15s"}
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    prometheus = Prometheus("prometheus", workdir / "prometheus.yml", workdir / "data", workdir / "log")
    try:
        prometheus.wait_ready(time.monotonic() + 60)
        prometheus.wait_for_samples(targets, 4, time.monotonic() + 300)
        time.sleep(30)  # recording rules evaluated a few times
        now = time.time()
        total = prometheus.query('count({__name__=~".+"})')[0]["value"][1]
        print(f"nodes: {nodes}; series in Prometheus: {total}")
        for label, dashboard in dashboards.items():
            series = samples = count = 0
            values = {**VALUES, "top_n": "10"}
            for query in panel_queries("felix.json", dashboard):
                expr = substitute(query.expr, values)
                data = prometheus._get(
                    "/api/v1/query_range",
                    {"query": expr, "start": f"{now - 1800:.3f}", "end": f"{now:.3f}", "step": "15s", "stats": "all"},
                    timeout=120,
                )
                series += len(data["result"])
                samples += int(data.get("stats", {}).get("samples", {}).get("totalQueryableSamples", 0))
                count += 1
            print(f"{label}: {count} queries, {series} series returned, {samples} samples read")
    finally:
        prometheus.stop()
        server.close()


if __name__ == "__main__":
    main()
