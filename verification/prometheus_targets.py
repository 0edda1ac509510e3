"""Whether Prometheus scrapes every target this stack's monitors should give it.

Pure (no Pulumi): ``classify`` reads Prometheus' answers to ``/api/v1/targets`` and
``/api/v1/status/config`` against the expected number of targets per job, and
``wait_for_targets`` polls a Prometheus until every job has them or the time is up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from builders.plan import StackPlan
from verification.prometheus_api import PrometheusUnreadable, fetch_json

POLL_SECONDS = 2.0
REQUEST_TIMEOUT_SECONDS = 5.0
TARGETS_PATH = "/api/v1/targets?state=active"
CONFIG_PATH = "/api/v1/status/config"

# What stands between Prometheus and each component's port.
_REACHABILITY = {
    "felix": "metricsHost, host firewall",
    "typha": "host firewall",
    "kube-controllers": "network policy",
}
_PORT_NAME_SETTING = {
    "felix": "calicoNode.portName",
    "typha": "typha.portName",
    "kube-controllers": "kubeControllers.portName",
}


@dataclass(frozen=True)
class ExpectedJob:
    """One scrape job of this stack, how many targets it should have, and the hints for when it does not."""

    job: str  # the `job` label of its targets, which is also its monitor's <namespace>/<name>
    monitor_kind: str  # podMonitor or serviceMonitor, as prometheus-operator prefixes the jobs it generates
    expected: int
    workload: str  # the DaemonSet or Deployment whose pods are the targets
    port_name_setting: str
    metrics_switch: str
    reachability: str

    @property
    def scrape_config_prefix(self) -> str:
        # prometheus-operator names the scrape config of the monitor's endpoint i `<kind>/<namespace>/<name>/<i>`.
        return f"{self.monitor_kind}/{self.job}/"


def expected_jobs(plan: StackPlan, expected: Mapping[str, int]) -> list[ExpectedJob]:
    """The plan's scrape jobs, each with its expected number of targets (``expected`` is keyed by component)."""
    return [
        ExpectedJob(
            job=component.job,
            monitor_kind=component.scrape.monitor_kind,
            expected=expected[component.component],
            workload=component.targets.name,
            port_name_setting=_PORT_NAME_SETTING[component.component],
            metrics_switch=component.metrics_switch,
            reachability=_REACHABILITY[component.component],
        )
        for component in plan.components
        if component.scrape is not None
    ]


@dataclass(frozen=True)
class JobResult:
    job: ExpectedJob
    up: int
    down: int
    unknown: int  # discovered, not scraped yet
    first_error: str | None
    # Whether Prometheus has a scrape config for the monitor; None when it was not (or could not be) read.
    selected: bool | None = None
    config_error: str | None = None

    @property
    def targets(self) -> int:
        return self.up + self.down + self.unknown

    @property
    def ok(self) -> bool:
        return self.up == self.job.expected

    def cause(self) -> str:
        """Why this job does not have its targets up, in the terms a user can act on."""
        job = self.job
        if self.targets == 0:
            not_selected = (
                f"Prometheus does not select monitor {job.job}: check its podMonitorSelector/"
                "serviceMonitorSelector (kube-prometheus-stack selects `release: <release>`; set "
                "podMonitor.labels) and namespace selectors"
            )
            if job.monitor_kind == "podMonitor":
                no_pods = (
                    f"the monitor selects no pods: namespace, labels or port name ({job.port_name_setting}) do "
                    f"not match, or the port is not declared yet ({job.workload} rollout in progress)"
                )
            else:
                no_pods = (
                    "the monitor selects no endpoints: its Service has no ready pods, or the Service's labels "
                    "or port name do not match"
                )
            if self.selected is False:
                return not_selected
            if self.selected is True:
                return no_pods
            unread = f" (the scrape configuration could not be read: {self.config_error})" if self.config_error else ""
            return f"no targets{unread}: either {not_selected}, or {no_pods}"
        if self.down:
            return (
                f"{self.down} of {self.targets} targets down (first lastError: {self.first_error}): metrics not "
                f"enabled ({job.metrics_switch}) or the port is not reachable ({job.reachability})"
            )
        if self.up > job.expected:
            return (
                f"more targets up than the {job.expected} expected: a rollout in progress (old and new pods both "
                "running), or another scrape config gives its targets the same job label"
            )
        pending = f", {self.unknown} not scraped yet" if self.unknown else ""
        return (
            f"fewer targets than expected and none down{pending}: a {job.workload} rollout in progress, pods "
            "not Running or not Ready, or Prometheus has not discovered them yet"
        )

    def line(self) -> str:
        return f"{self.job.job}: {self.up}/{self.job.expected} up: {self.cause()}"


def scrape_config_names(config: Mapping[str, Any]) -> set[str]:
    """`job_name` of every scrape config in the data of an /api/v1/status/config answer."""
    document = yaml.safe_load(config.get("yaml") or "") or {}
    return {str(c.get("job_name")) for c in document.get("scrape_configs") or [] if isinstance(c, Mapping)}


def classify(
    jobs: Sequence[ExpectedJob],
    targets: Mapping[str, Any],
    config: Mapping[str, Any] | None = None,
    config_error: str | None = None,
) -> list[JobResult]:
    """Per job, its active targets by health, from the data of /api/v1/targets (and of /api/v1/status/config)."""
    names = scrape_config_names(config) if config is not None else None
    results = []
    for job in jobs:
        mine = [t for t in targets.get("activeTargets") or [] if (t.get("labels") or {}).get("job") == job.job]
        health = [t.get("health") for t in mine]
        errors = [t.get("lastError") for t in mine if t.get("health") == "down" and t.get("lastError")]
        selected = None if names is None else any(n.startswith(job.scrape_config_prefix) for n in names)
        results.append(
            JobResult(
                job=job,
                up=health.count("up"),
                down=health.count("down"),
                unknown=len(health) - health.count("up") - health.count("down"),
                first_error=errors[0] if errors else None,
                selected=selected,
                config_error=config_error,
            )
        )
    return results


@dataclass(frozen=True)
class Verification:
    prometheus_url: str
    timeout_seconds: float
    results: tuple[JobResult, ...] = ()
    error: str | None = None  # set when no answer about the targets was ever had

    @property
    def ok(self) -> bool:
        return self.error is None and all(r.ok for r in self.results)

    @property
    def summary(self) -> dict[str, dict[str, int]]:
        """The `scrapeTargets` stack output."""
        return {r.job.job: {"up": r.up, "expected": r.job.expected} for r in self.results}

    def message(self) -> str:
        if self.error is not None:
            return (
                f"calico-monitoring:verify: cannot read Prometheus at {self.prometheus_url} "
                f"(tried for {self.timeout_seconds:g} s): {self.error}"
            )
        failing = [r for r in self.results if not r.ok]
        return (
            f"calico-monitoring:verify: Prometheus at {self.prometheus_url} does not scrape every Calico target "
            f"after {self.timeout_seconds:g} s:\n" + "\n".join(f"  - {r.line()}" for r in failing)
        )


def wait_for_targets(
    prometheus_url: str,
    jobs: Sequence[ExpectedJob],
    timeout_seconds: float,
    *,
    fetch: Callable[[str, float], Any] = fetch_json,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Verification:
    """Polls the active targets until each job has its expected number up, for at most about ``timeout_seconds``.

    The scrape configuration is read once, at the end and only when a job has no targets:
    read earlier it could predate prometheus-operator's reload of the new monitors.
    """
    base = prometheus_url.rstrip("/")
    deadline = clock() + timeout_seconds

    def request_timeout() -> float:
        return max(1.0, min(REQUEST_TIMEOUT_SECONDS, deadline - clock()))

    targets = None
    last_error = None
    while True:
        try:
            targets = fetch(base + TARGETS_PATH, request_timeout())
            results = classify(jobs, targets)
            if all(r.ok for r in results):
                return Verification(prometheus_url, timeout_seconds, tuple(results))
        except PrometheusUnreadable as error:
            last_error = str(error)
        if clock() + POLL_SECONDS >= deadline:
            break
        sleep(POLL_SECONDS)
    if targets is None:
        return Verification(prometheus_url, timeout_seconds, error=last_error)
    config = config_error = None
    if any(r.targets == 0 for r in classify(jobs, targets)):
        try:
            config = fetch(base + CONFIG_PATH, request_timeout())
            scrape_config_names(config)
        except PrometheusUnreadable as error:
            config_error = str(error)
        except yaml.YAMLError as error:
            config, config_error = None, f"{base + CONFIG_PATH}: not YAML: {error}"
    return Verification(prometheus_url, timeout_seconds, tuple(classify(jobs, targets, config, config_error)))
