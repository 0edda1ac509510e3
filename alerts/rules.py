"""Prometheus alerting and recording rules for Calico, as plain data.

Nothing here imports Pulumi: ``build_rule_groups`` returns the ``spec.groups``
list of a PrometheusRule, so the rules can be unit-tested and fed to
``promtool`` directly.

Metric facts the rules rely on (checked against projectcalico/calico):

* Felix (port 9091) exports plain counters without a ``_total`` suffix:
  ``felix_int_dataplane_failures``, ``felix_resyncs_started``,
  ``felix_iptables_restore_errors``, ``felix_iptables_save_errors``,
  ``felix_ipset_errors``, ``felix_nft_errors``, ``felix_nft_set_errors`` and
  ``felix_nft_list_errors``.  ``felix_int_dataplane_apply_time_seconds`` is a
  summary with the quantiles 0.5, 0.9 and 0.99.  None of them carries a node
  label, so the rules expect the scrape configuration to add a ``node`` target
  label (from ``__meta_kubernetes_pod_node_name``); where it is missing the
  annotations fall back to ``instance``.
* Typha (port 9093) exports the counter ``typha_connections_dropped``, which
  counts connections Typha closed because it held more than its share.
* calico-kube-controllers (port 9094) exports ``ipam_ippool_size{ippool}``,
  ``ipam_ippool_reserved{ippool}`` (newer releases only) and
  ``ipam_allocations_in_use{ippool,node}``; the ``node`` label there is the
  IPAM node, so that target must not get a ``node`` target label.

Every expression is scoped to one scrape job, ``job="<value>"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

# The runbooks ship with the rules; where a team publishes its copy is only known from
# alerts.runbookUrlPattern. Without it each alert names the section in the shipped file.
RUNBOOKS_PATH = "docs/runbooks.md"
RUNBOOK_PLACEHOLDERS = ("{alert}", "{anchor}")

# Dashboard uid of each component's shipped dashboard (dashboards/*.json), for dashboard_url.
DASHBOARD_UIDS: dict[str, str] = {
    "felix": "calico-felix",
    "typha": "calico-typha",
    "kube-controllers": "calico-kube-controllers",
}

COMPONENTS: tuple[str, ...] = ("felix", "typha", "kube-controllers")

DEFAULT_JOBS: dict[str, str] = {
    "felix": "monitoring/felix",
    "typha": "monitoring/calico-typha",
    "kube-controllers": "monitoring/calico-kube-controllers",
}

SEVERITIES: tuple[str, ...] = ("critical", "warning", "info")

SETTING_PREFIX = "calico-monitoring:alerts.overrides"

# Recording rule names, exported so dashboards can use the same series.
RECORD_FELIX_FAILURE_RATE = "calico:felix_int_dataplane_failures:rate5m"
RECORD_FELIX_APPLY_TIME_P99 = "calico:felix_int_dataplane_apply_time_seconds:p99"
RECORD_FELIX_RESYNCS = "calico:felix_resyncs_started:increase15m"
RECORD_FELIX_RESTARTS = "calico:felix_process_restarts:changes15m"
RECORD_FELIX_RESYNCING_RATIO = "calico:felix_resyncing_targets:ratio"
RECORD_TYPHA_DROP_RATE = "calico:typha_connections_dropped:rate5m"
RECORD_IPPOOL_UTILISATION = "calico:ipam_ippool_utilisation:ratio"
RECORD_IPPOOL_BORROWED = "calico:ipam_allocations_borrowed:sum"

# Nodes Kubernetes does not report Ready (kube-state-metrics). Felix on such a node is
# expected to be unreachable: the node's own alerts (KubeNodeNotReady) cover it. When
# kube-state-metrics is absent the selector is empty and suppresses nothing.
NODE_NOT_READY = 'kube_node_status_condition{condition="Ready", status="true"} == 0'

# Names the Felix node in annotations: the `node` target label when the scrape
# configuration adds one, otherwise the scrape address.
_NODE = "{{ with $labels.node }}{{ . }}{{ else }}{{ $labels.instance }}{{ end }}"
_TARGET = "pod {{ $labels.pod }}, target {{ $labels.instance }}"
_FELIX_TARGET = _TARGET
# The IPAM node of a kube-controllers series: `node`, or `exported_node` when the scrape
# added a `node` target label of its own.
_IPAM_NODE = "{{ with $labels.exported_node }}{{ . }}{{ else }}{{ $labels.node }}{{ end }}"
# The alert value as a per-second rate (0.0167) and as a whole count (12).
_RATE = '{{ printf "%.3g" $value }}'
_COUNT = '{{ printf "%.0f" $value }}'
_SHARE = "{{ $value | humanizePercentage }}"


@dataclass(frozen=True)
class RecordingRule:
    """A recording rule; ``expr`` uses the ``${job}`` and ``${c}`` placeholders."""

    record: str
    component: str
    expr: str


@dataclass(frozen=True)
class AlertDefinition:
    """One alert.

    Templates may use ``${job}`` (a quoted PromQL string literal),
    ``${threshold}`` (a PromQL number), ``${threshold_text}`` (the threshold
    for people to read), ``${for}``, ``${c}`` (the cluster label and a comma
    inside ``by``/``on`` lists, or nothing) and ``${not_ready}`` (the
    kube-state-metrics selector of NotReady nodes).  ``{{ ... }}`` is
    Prometheus alert templating and is passed through untouched.
    """

    name: str
    component: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    # Why this severity, in the terms of SEVERITY_POLICY (README, runbooks).
    why: str = ""
    threshold: float | None = None
    # Inclusive upper bound for the threshold, and what the threshold means.
    threshold_max: float | None = None
    threshold_meaning: str = ""
    # How ${threshold_text} shows the threshold: "number" (3), "seconds" (5s)
    # or "percent" (0.9 -> 90%).
    threshold_style: str = "number"
    # Labels of the alert that select the dashboard's variable of the same name in dashboard_url.
    dashboard_vars: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        """Override fields this alert accepts."""
        base = ("enabled", "for", "severity")
        return (*base, "threshold") if self.threshold is not None else base


SEVERITY_POLICY = """\
critical: users of many nodes are affected now or within minutes (policy, routes or
  addresses stop reaching a meaningful share of the cluster, or nothing can be
  observed at all). It pages, one alert per cause: breadth is measured across the
  job, never raised once per node.
warning: one node, one pod or one pool has a cause that needs a person during
  working hours; the cluster as a whole still works. Per-node alerts are held back
  while the cluster-wide alert for the same symptom fires where the cause is by
  nature upstream (resyncs, restarts, sync state); Felix-down is held back while
  Kubernetes itself reports the node NotReady.
info: not used by default; available to overrides."""


RECORDING_RULES: tuple[RecordingRule, ...] = (
    RecordingRule(
        record=RECORD_FELIX_FAILURE_RATE,
        component="felix",
        expr="rate(felix_int_dataplane_failures{job=${job}}[5m])",
    ),
    RecordingRule(
        record=RECORD_FELIX_APPLY_TIME_P99,
        component="felix",
        expr=('max without (quantile) (felix_int_dataplane_apply_time_seconds{job=${job}, quantile="0.99"})'),
    ),
    # Datastore resyncs per Felix over 15 minutes. Before Calico v3.31 a lost Typha
    # connection makes Felix exit and start again instead: the new process starts
    # its counter at 1 again, so that shows as a restart, recorded below.
    RecordingRule(
        record=RECORD_FELIX_RESYNCS,
        component="felix",
        expr="increase(felix_resyncs_started{job=${job}}[15m])",
    ),
    # Felix process restarts inside calico-node (runsv restarts it; the container
    # restart count does not move).
    RecordingRule(
        record=RECORD_FELIX_RESTARTS,
        component="felix",
        expr="changes(process_start_time_seconds{job=${job}}[15m])",
    ),
    # Share of Felix targets that resynced or restarted in the last 15 minutes; 0
    # when none did. A high share has one cluster-wide cause (Typha, the API
    # server, a FelixConfiguration change), not one per node.
    RecordingRule(
        record=RECORD_FELIX_RESYNCING_RATIO,
        component="felix",
        expr="""
            (
                count by (${c}job) (
                    max by (${c}job, instance) (
                        ("""
        + RECORD_FELIX_RESYNCS
        + """{job=${job}} > 0)
                      or
                        ("""
        + RECORD_FELIX_RESTARTS
        + """{job=${job}} > 0)
                    )
                )
              or
                count by (${c}job) (up{job=${job}}) * 0
            )
          /
            count by (${c}job) (up{job=${job}})
        """,
    ),
    RecordingRule(
        record=RECORD_TYPHA_DROP_RATE,
        component="typha",
        expr="rate(typha_connections_dropped{job=${job}}[5m])",
    ),
    # Allocated addresses over usable addresses (pool size minus the addresses
    # IPReservations hold back; releases without ipam_ippool_reserved count
    # none as reserved).  Aggregating "by" named labels keeps the match working
    # whatever extra target labels the scrape configuration adds; "max" over
    # pods copes with two kube-controllers pods during a rollout.
    RecordingRule(
        record=RECORD_IPPOOL_UTILISATION,
        component="kube-controllers",
        expr="""
            max by (${c}job, namespace, ippool) (
                sum by (${c}job, namespace, pod, ippool) (ipam_allocations_in_use{job=${job}})
              /
                (
                    max by (${c}job, namespace, pod, ippool) (ipam_ippool_size{job=${job}})
                  -
                    (
                        max by (${c}job, namespace, pod, ippool) (ipam_ippool_reserved{job=${job}})
                      or
                        max by (${c}job, namespace, pod, ippool) (ipam_ippool_size{job=${job}}) * 0
                    )
                )
            )
        """,
    ),
    # Addresses nodes hold in blocks affine to other nodes, per pool. Calico borrows
    # only when a node's own blocks are full and the pool has no unclaimed block
    # left, so a non-zero value means the pool's blocks ran out.
    RecordingRule(
        record=RECORD_IPPOOL_BORROWED,
        component="kube-controllers",
        expr="""
            max by (${c}job, namespace, ippool) (
                sum by (${c}job, namespace, pod, ippool) (ipam_allocations_borrowed{job=${job}})
            )
        """,
    ),
)


def _breadth(selected: str) -> str:
    """Share of the job's Felix targets in ``selected`` above ${threshold}, and at least two of them.

    One node is never "widespread", however small the cluster.
    """
    return (
        f"count by (${{c}}job) ({selected}) / count by (${{c}}job) (up{{job=${{job}}}}) > ${{threshold}}"
        f" and on (${{c}}job) count by (${{c}}job) ({selected}) > 1"
    )


# How each component is named in alert names and texts.
_CAMEL = {"felix": "Felix", "typha": "Typha", "kube-controllers": "KubeControllers"}
_PROCESS = {"felix": "Felix", "typha": "Typha", "kube-controllers": "calico-kube-controllers"}


def _down_alert(
    component: str,
    *,
    subject: str,
    consequence: str,
    why: str,
    expr: str = "up{job=${job}} == 0",
    condition: str = "",
    for_: str = "5m",
    dashboard_vars: tuple[str, ...] = (),
) -> AlertDefinition:
    """``Calico<Component>Down``: one target of the job fails every scrape (a warning: one instance)."""
    return AlertDefinition(
        name=f"Calico{_CAMEL[component]}Down",
        component=component,
        dashboard_vars=dashboard_vars,
        expr=expr,
        for_=for_,
        severity="warning",
        why=why,
        summary=f"{subject} cannot be scraped.",
        description=(
            f"Prometheus has failed to scrape {_PROCESS[component]} ({_TARGET}) for more "
            f"than ${{for}}{condition}. {consequence}"
        ),
    )


def _targets_missing_alert(component: str, *, consequence: str, severity: str, why: str) -> AlertDefinition:
    """``Calico<Component>TargetsMissing``: the job has no target at all, so its other alerts cannot fire."""
    return AlertDefinition(
        name=f"Calico{_CAMEL[component]}TargetsMissing",
        component=component,
        expr="absent(up{job=${job}})",
        for_="15m",
        severity=severity,
        why=why,
        summary=f"Prometheus has no {_PROCESS[component]} targets for job {{{{ $labels.job }}}}.",
        description=("No scrape target with job {{ $labels.job }} has existed for more than ${for}. " + consequence),
    )


_CRITICAL_BREADTH = "critical: the symptom is on a large share of nodes, so users cluster-wide are affected; one page"
_WARNING_NODE = "warning: one node's cause; held back while the cluster-wide alert for it fires"

ALERTS: tuple[AlertDefinition, ...] = (
    # --- Felix ---------------------------------------------------------------
    _down_alert(
        "felix",
        subject=f"Felix on node {_NODE}",
        dashboard_vars=("node",),
        # NotReady nodes are the node's own alerts' business (KubeNodeNotReady).
        expr="up{job=${job}} == 0 unless on (${c}node) (" + NODE_NOT_READY + ")",
        condition=" while Kubernetes reports the node Ready",
        consequence=(
            "Either calico-node is not running properly on the node or its metrics port is "
            "unreachable; while Felix is down, policy, route and endpoint changes "
            "are not programmed on that node."
        ),
        for_="10m",
        why="warning: one node loses policy updates; quiet while Kubernetes reports the node NotReady",
    ),
    AlertDefinition(
        name="CalicoFelixDownWidespread",
        component="felix",
        expr=_breadth("up{job=${job}} == 0 unless on (${c}node) (" + NODE_NOT_READY + ")"),
        for_="5m",
        severity="critical",
        threshold=0.1,
        threshold_max=1,
        threshold_meaning="share of Felix targets down on Ready nodes",
        threshold_style="percent",
        why=_CRITICAL_BREADTH,
        summary="Felix cannot be scraped on {{ $value | humanizePercentage }} of the nodes of job {{ $labels.job }}.",
        description=(
            f"{_SHARE} of the Felix targets of job {{{{ $labels.job }}}} on Ready nodes "
            "have been down for more than ${for} (threshold ${threshold_text}). One "
            "cause is likely: a calico-node rollout gone wrong, Felix metrics turned "
            "off, or a NetworkPolicy or firewall blocking the metrics port."
        ),
    ),
    _targets_missing_alert(
        "felix",
        consequence=(
            "Either the calico-node DaemonSet is missing or Felix "
            "metrics are not being discovered (metrics disabled, monitor "
            "selector or namespace mismatch), so no other Felix alert can fire."
        ),
        severity="critical",
        why="critical: with no Felix target no other Felix alert can fire; the cluster is unobserved",
    ),
    AlertDefinition(
        name="CalicoFelixRestarting",
        component="felix",
        dashboard_vars=("node",),
        expr=(
            RECORD_FELIX_RESTARTS + "{job=${job}} > ${threshold}"
            " unless on (${c}job) (" + RECORD_FELIX_RESYNCING_RATIO + "{job=${job}} > 0.2)"
        ),
        for_="10m",
        severity="warning",
        threshold=2,
        threshold_meaning="Felix process restarts within 15 minutes",
        why=_WARNING_NODE + " (more than 20% of Felix resyncing or restarting)",
        summary=f"Felix on node {_NODE} keeps restarting.",
        description=(
            f"The Felix process ({_FELIX_TARGET}) started {_COUNT} times in the last "
            "15 minutes, more than ${threshold_text}, for more than ${for}. Felix "
            "restarts inside calico-node without the container restarting, so "
            "KubePodCrashLooping does not see it. Before Calico v3.31 a lost Typha "
            "connection ends this way."
        ),
    ),
    AlertDefinition(
        name="CalicoFelixDataplaneFailures",
        component="felix",
        dashboard_vars=("node",),
        expr=RECORD_FELIX_FAILURE_RATE + "{job=${job}} > 0",
        for_="15m",
        severity="warning",
        why="warning: one node's policy is stale; the node list is what to act on (breadth pages separately)",
        summary=f"Felix on node {_NODE} keeps failing to program the dataplane.",
        description=(
            f"Felix ({_FELIX_TARGET}) has been recording failed dataplane "
            "updates for more than ${for}, currently "
            f"{_RATE} failures per second. The node's iptables/nftables, IP "
            "sets, routes or BPF state no longer match the desired policy "
            "and endpoints."
        ),
    ),
    AlertDefinition(
        name="CalicoFelixDataplaneFailuresWidespread",
        component="felix",
        expr=_breadth(RECORD_FELIX_FAILURE_RATE + "{job=${job}} > 0"),
        for_="15m",
        severity="critical",
        threshold=0.05,
        threshold_max=1,
        threshold_meaning="share of Felix targets with failing dataplane updates",
        threshold_style="percent",
        why=_CRITICAL_BREADTH,
        summary="Felix fails to program the dataplane on {{ $value | humanizePercentage }} of the nodes.",
        description=(
            f"{_SHARE} of the Felix targets of job {{{{ $labels.job }}}} have been "
            "failing dataplane updates for more than ${for} (threshold "
            "${threshold_text}). Policy and endpoint changes are not reaching those "
            "nodes; a cluster-wide cause (an upgrade, a kernel or iptables/nftables "
            "change, another agent rewriting rules) is likely."
        ),
    ),
    AlertDefinition(
        name="CalicoFelixIptablesErrors",
        component="felix",
        dashboard_vars=("node",),
        # Both counters are registered together (felix/iptables/table.go), so
        # adding them never loses a target.  A {__name__=~...} selector inside
        # rate() would give duplicate label sets once the names are dropped.
        expr=(
            "rate(felix_iptables_restore_errors{job=${job}}[5m]) + rate(felix_iptables_save_errors{job=${job}}[5m]) > 0"
        ),
        for_="15m",
        severity="warning",
        why="warning: a cause on one node; CalicoFelixDataplaneFailures* measure the effect",
        summary=f"iptables-save/iptables-restore keep failing for Felix on node {_NODE}.",
        description=(
            f"Felix ({_FELIX_TARGET}) has been getting errors from "
            "iptables-save or iptables-restore for more than ${for}, currently "
            f"{_RATE} errors per second."
        ),
    ),
    AlertDefinition(
        name="CalicoFelixIpsetErrors",
        component="felix",
        dashboard_vars=("node",),
        expr="rate(felix_ipset_errors{job=${job}}[5m]) > 0",
        for_="15m",
        severity="warning",
        why="warning: a cause on one node; CalicoFelixDataplaneFailures* measure the effect",
        summary=f"ipset commands keep failing for Felix on node {_NODE}.",
        description=(
            f"Felix ({_FELIX_TARGET}) has been getting errors from the ipset "
            "command for more than ${for}, currently "
            f"{_RATE} errors per second."
        ),
    ),
    AlertDefinition(
        name="CalicoFelixNftablesErrors",
        component="felix",
        dashboard_vars=("node",),
        # Exported since Calico v3.29 (felix/nftables/table.go, ipsets.go),
        # always all three; older Felix has no nftables mode and no series.
        expr=(
            "rate(felix_nft_errors{job=${job}}[5m])"
            " + rate(felix_nft_set_errors{job=${job}}[5m])"
            " + rate(felix_nft_list_errors{job=${job}}[5m]) > 0"
        ),
        for_="15m",
        severity="warning",
        why="warning: a cause on one node; CalicoFelixDataplaneFailures* measure the effect",
        summary=f"nftables operations keep failing for Felix on node {_NODE}.",
        description=(
            f"Felix ({_FELIX_TARGET}) has been getting errors writing or listing "
            "nftables rules, chains or sets for more than ${for}, currently "
            f"{_RATE} errors per second."
        ),
    ),
    AlertDefinition(
        name="CalicoFelixDataplaneApplySlow",
        component="felix",
        dashboard_vars=("node",),
        expr=RECORD_FELIX_APPLY_TIME_P99 + "{job=${job}} > ${threshold}",
        for_="15m",
        severity="warning",
        threshold=5,
        threshold_meaning="seconds (99th percentile of dataplane apply time)",
        threshold_style="seconds",
        why="warning: changes reach one node late but do reach it",
        summary=f"Felix on node {_NODE} is slow to apply dataplane updates.",
        description=(
            f"The 99th percentile of Felix's dataplane apply time ({_FELIX_TARGET}) "
            "is {{ $value | humanizeDuration }}, above ${threshold_text}, and has "
            "been for more than ${for}. Policy and endpoint changes reach this "
            "node late."
        ),
    ),
    AlertDefinition(
        name="CalicoFelixFrequentResyncs",
        component="felix",
        dashboard_vars=("node",),
        expr=(
            RECORD_FELIX_RESYNCS + "{job=${job}} > ${threshold}"
            " unless on (${c}job) (" + RECORD_FELIX_RESYNCING_RATIO + "{job=${job}} > 0.2)"
        ),
        for_="15m",
        severity="warning",
        threshold=2,
        threshold_meaning="datastore resyncs started within 15 minutes",
        why=_WARNING_NODE + " (CalicoFelixResyncsWidespread)",
        summary=f"Felix on node {_NODE} keeps resyncing with the datastore.",
        description=(
            f"Felix ({_FELIX_TARGET}) started about {_COUNT} datastore resyncs in the "
            "last 15 minutes, more than ${threshold_text}, for more than ${for}, "
            "while most other nodes did not. Its connection to Typha or the "
            "datastore keeps being lost, and each resync costs CPU on the node and "
            "load on Typha or the API server."
        ),
    ),
    AlertDefinition(
        name="CalicoFelixResyncsWidespread",
        component="felix",
        expr=RECORD_FELIX_RESYNCING_RATIO + "{job=${job}} > ${threshold}",
        for_="15m",
        severity="warning",
        threshold=0.2,
        threshold_max=1,
        threshold_meaning="share of Felix targets that resynced or restarted within 15 minutes",
        threshold_style="percent",
        why="warning: one alert for one cluster-wide cause; the dataplane keeps its last state meanwhile",
        summary="{{ $value | humanizePercentage }} of Felix instances keep resyncing or restarting.",
        description=(
            f"{_SHARE} of the Felix targets of job {{{{ $labels.job }}}} resynced with "
            "the datastore or restarted within the last 15 minutes, above "
            "${threshold_text}, and this has gone on for more than ${for}. One cause "
            "serves them all: Typha restarting or rebalancing, the API server or "
            "etcd, or a FelixConfiguration change."
        ),
    ),
    AlertDefinition(
        name="CalicoFelixNotInSync",
        component="felix",
        dashboard_vars=("node",),
        expr=(
            "felix_resync_state{job=${job}} != 3"
            " unless on (${c}job) (count by (${c}job) (felix_resync_state{job=${job}} != 3)"
            " / count by (${c}job) (up{job=${job}}) > 0.1)"
        ),
        for_="15m",
        severity="warning",
        why=_WARNING_NODE + " (CalicoFelixNotInSyncWidespread)",
        summary=f"Felix on node {_NODE} is not in sync with the datastore.",
        description=(
            f"Felix ({_FELIX_TARGET}) has reported sync state {_COUNT} (1 waiting "
            "for the datastore, 2 resyncing; 3 is in sync) for more than ${for}. "
            "It is not applying the current policy and endpoints."
        ),
    ),
    AlertDefinition(
        name="CalicoFelixNotInSyncWidespread",
        component="felix",
        expr=_breadth("felix_resync_state{job=${job}} != 3"),
        for_="15m",
        severity="critical",
        threshold=0.1,
        threshold_max=1,
        threshold_meaning="share of Felix targets not in sync with the datastore",
        threshold_style="percent",
        why=_CRITICAL_BREADTH,
        summary="{{ $value | humanizePercentage }} of Felix instances are not in sync with the datastore.",
        description=(
            f"{_SHARE} of the Felix targets of job {{{{ $labels.job }}}} have not been "
            "in sync with the datastore for more than ${for} (threshold "
            "${threshold_text}). New pods, policies and services are not being "
            "programmed on those nodes; check Typha and the API server first."
        ),
    ),
    AlertDefinition(
        name="CalicoFelixBPFDirtyEndpoints",
        component="felix",
        dashboard_vars=("node",),
        # Registered in every mode (0 outside eBPF mode).
        expr="felix_bpf_dirty_dataplane_endpoints{job=${job}} > 0",
        for_="15m",
        severity="warning",
        why="warning: some endpoints on one node run stale eBPF programs",
        summary=f"Felix on node {_NODE} has eBPF endpoints it failed to program.",
        description=(
            f"Felix ({_FELIX_TARGET}) has had {_COUNT} eBPF endpoints left dirty "
            "after a failure for more than ${for}. Their policy may be out of date."
        ),
    ),
    # --- Typha ---------------------------------------------------------------
    _down_alert(
        "typha",
        subject="Typha pod {{ $labels.pod }}",
        dashboard_vars=("node",),
        consequence="Felix instances connected to it must reconnect to the remaining Typha replicas.",
        why="warning: the other replicas take its clients over",
    ),
    AlertDefinition(
        name="CalicoTyphaAllDown",
        component="typha",
        expr="max by (${c}job) (up{job=${job}}) == 0",
        for_="5m",
        severity="critical",
        why="critical: with no Typha, no Felix in the cluster receives datastore updates",
        summary="No Typha replica of job {{ $labels.job }} can be scraped.",
        description=(
            "Every Typha target of job {{ $labels.job }} has been down for more "
            "than ${for}. Felix on every node gets no policy, endpoint or route "
            "updates until a Typha replica serves again."
        ),
    ),
    _targets_missing_alert(
        "typha",
        consequence=(
            "Either no Typha pod is running, in which case Felix "
            "cannot receive datastore updates, or Typha metrics are not being "
            "discovered."
        ),
        severity="critical",
        why="critical: no Typha pod at all, or nothing can watch it",
    ),
    AlertDefinition(
        name="CalicoTyphaConnectionsDropped",
        component="typha",
        dashboard_vars=("node",),
        expr=RECORD_TYPHA_DROP_RATE + "{job=${job}} > 0",
        for_="30m",
        severity="warning",
        why="warning: capacity; clients reconnect to other replicas",
        summary="Typha pod {{ $labels.pod }} keeps dropping client connections.",
        description=(
            "Typha (pod {{ $labels.pod }}) has been closing Felix connections to "
            "shed load for more than ${for}, currently "
            f"{_RATE} per second. Rebalancing after a Typha restart or "
            "scale-up settles within minutes; continuous drops mean Typha lacks capacity or "
            "clients keep reconnecting."
        ),
    ),
    AlertDefinition(
        name="CalicoTyphaClientsLagging",
        component="typha",
        dashboard_vars=("node",),
        expr='typha_client_latency_secs{job=${job}, quantile="0.99"} > ${threshold}',
        for_="10m",
        severity="warning",
        threshold=60,
        threshold_meaning="seconds (99th percentile of how far behind Typha's clients are)",
        threshold_style="seconds",
        why="warning: updates reach this replica's clients late; Typha cuts clients off at 300s",
        summary="Clients of Typha pod {{ $labels.pod }} ({{ $labels.syncer }} syncer) lag behind.",
        description=(
            "The 99th percentile of how far behind the current state the "
            "{{ $labels.syncer }} clients of Typha pod {{ $labels.pod }} are has "
            "been {{ $value | humanizeDuration }}, above ${threshold_text}, for more "
            "than ${for}. Typha disconnects clients that fall 300 seconds behind."
        ),
    ),
    AlertDefinition(
        name="CalicoTyphaPingSlow",
        component="typha",
        dashboard_vars=("node",),
        expr='typha_ping_latency{job=${job}, quantile="0.99"} > ${threshold}',
        for_="15m",
        severity="warning",
        threshold=1,
        threshold_meaning="seconds (99th percentile of Typha's ping round trip to clients)",
        threshold_style="seconds",
        why="warning: a slow replica or network; clients still get updates",
        summary="Typha pod {{ $labels.pod }} sees slow pings to its {{ $labels.syncer }} clients.",
        description=(
            "The 99th percentile round trip of Typha pod {{ $labels.pod }}'s pings "
            "to its {{ $labels.syncer }} clients has been "
            "{{ $value | humanizeDuration }}, above ${threshold_text}, for more than "
            "${for}. Typha or its clients are overloaded, or the network between "
            "them is."
        ),
    ),
    # --- calico-kube-controllers --------------------------------------------
    _down_alert(
        "kube-controllers",
        subject="calico-kube-controllers pod {{ $labels.pod }}",
        consequence="While it is down, IPAM garbage collection, node cleanup and IP pool metrics stop.",
        why="warning: IPAM clean-up pauses; nothing breaks at once",
    ),
    _targets_missing_alert(
        "kube-controllers",
        consequence=(
            "Either calico-kube-controllers is not running or its "
            "metrics are not being discovered, so IP pool exhaustion cannot be "
            "detected."
        ),
        severity="warning",
        why="warning: IP pool alerts go blind; nothing breaks at once",
    ),
    AlertDefinition(
        name="CalicoIPPoolNearlyExhausted",
        component="kube-controllers",
        dashboard_vars=("ippool",),
        expr=RECORD_IPPOOL_UTILISATION + "{job=${job}} > ${threshold}",
        for_="15m",
        severity="warning",
        threshold=0.9,
        threshold_max=1,
        threshold_meaning="fraction of the pool's usable addresses in use",
        threshold_style="percent",
        why="warning: there is time to add a pool; pods still start",
        summary="Calico IP pool {{ $labels.ippool }} is nearly exhausted.",
        description=(
            "{{ $value | humanizePercentage }} of the usable addresses in IP "
            "pool {{ $labels.ippool }} are allocated, above ${threshold_text}, "
            "and have been for more than ${for}. When the pool is full, new "
            "pods that need an address from it cannot start."
        ),
    ),
    AlertDefinition(
        name="CalicoIPPoolBlocksExhausted",
        component="kube-controllers",
        dashboard_vars=("ippool",),
        expr=RECORD_IPPOOL_BORROWED + "{job=${job}} > 0",
        for_="15m",
        severity="warning",
        why="warning: pods still start by borrowing, but new nodes get no block of their own",
        summary="Calico IP pool {{ $labels.ippool }} has no free block left.",
        description=(
            f"Nodes hold {_COUNT} addresses borrowed from blocks affine to other "
            "nodes in IP pool {{ $labels.ippool }}, and have for more than ${for}. "
            "Calico borrows only when the pool has no unclaimed block left, which "
            "happens long before its addresses run out on large clusters. New "
            "nodes get no block of their own; with strictAffinity pods fail to get "
            "an address."
        ),
    ),
    AlertDefinition(
        name="CalicoIPAMGarbageCollectionStuck",
        component="kube-controllers",
        dashboard_vars=("ippool",),
        expr=("max by (${c}job, ippool, node, exported_node) (ipam_allocations_gc_candidates{job=${job}}) > 0"),
        for_="1h",
        severity="warning",
        why="warning: leaked addresses pile up slowly",
        summary=f"Leaked addresses on node {_IPAM_NODE} are not being released.",
        description=(
            f"{_COUNT} addresses of IP pool {{{{ $labels.ippool }}}} on node "
            f"{_IPAM_NODE} have looked leaked for more than ${{for}}. "
            "calico-kube-controllers releases candidates after a grace period (15 "
            "minutes by default), so they should have gone back to zero."
        ),
    ),
)

ALERT_NAMES: tuple[str, ...] = tuple(a.name for a in ALERTS)

_ALERTS_BY_NAME: dict[str, AlertDefinition] = {a.name: a for a in ALERTS}

# A Prometheus duration such as 30s, 5m, 1h30m or 1d; "0" means no wait.
_DURATION_RE = re.compile(
    r"^(?:0|(?:[0-9]+y)?(?:[0-9]+w)?(?:[0-9]+d)?(?:[0-9]+h)?(?:[0-9]+m)?"
    r"(?:[0-9]+s)?(?:[0-9]+ms)?)$"
)

_PLACEHOLDER_RE = re.compile(r"\$\{(job|threshold|threshold_text|for|c)\}")


_LABEL_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_label_name(value: object) -> bool:
    """A Prometheus label name that is not reserved (``__`` prefix)."""
    return isinstance(value, str) and bool(_LABEL_NAME_RE.match(value)) and not value.startswith("__")


def promql_string(value: str) -> str:
    """Quote ``value`` as a PromQL double-quoted string literal."""
    out = []
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _number(value: float) -> str:
    """Render a number for PromQL and for people: 5, 0.9, 2.5."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return repr(value)


def _threshold_text(alert: AlertDefinition, threshold: float) -> str:
    if alert.threshold_style == "percent":
        return f"{float(threshold) * 100:g}%"
    if alert.threshold_style == "seconds":
        return f"{_number(threshold)}s"
    return _number(threshold)


def _substitute(template: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], template)


def _squash(expr_template: str) -> str:
    # Collapse layout whitespace before the job value goes in, so a job value
    # containing spaces is never altered.
    return " ".join(expr_template.split())


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate_overrides(overrides: Mapping[str, Mapping[str, object]] | None) -> None:
    """Raise ``ValueError`` naming the first bad setting in ``overrides``."""
    if overrides is None:
        return
    if not isinstance(overrides, Mapping):
        raise ValueError(f"{SETTING_PREFIX}: expected a mapping of alert name to settings, got {overrides!r}")
    for name, settings in overrides.items():
        setting = f"{SETTING_PREFIX}.{name}"
        alert = _ALERTS_BY_NAME.get(name) if isinstance(name, str) else None
        if alert is None:
            raise ValueError(f"{setting}: unknown alert {name!r}; known alerts: " + ", ".join(ALERT_NAMES))
        if not isinstance(settings, Mapping):
            raise ValueError(
                f"{setting}: expected a mapping with any of the fields {', '.join(alert.fields)}, got {settings!r}"
            )
        for field, value in settings.items():
            _validate_field(alert, f"{setting}.{field}", field, value)


def _validate_field(alert: AlertDefinition, setting: str, field: object, value: object) -> None:
    if field not in alert.fields:
        hint = ""
        if field == "threshold":
            hint = f" ({alert.name} has no threshold)"
        raise ValueError(
            f"{setting}: unknown field {field!r}{hint}; accepted fields for {alert.name}: {', '.join(alert.fields)}"
        )
    if field == "enabled":
        if not isinstance(value, bool):
            raise ValueError(f"{setting}: invalid value {value!r}; expected true or false")
    elif field == "for":
        if not isinstance(value, str) or not value or not _DURATION_RE.match(value):
            raise ValueError(
                f"{setting}: invalid value {value!r}; expected a Prometheus "
                "duration such as 30s, 5m, 1h30m or 1d (units ms, s, m, h, d, w, y)"
            )
    elif field == "severity":
        if value not in SEVERITIES:
            raise ValueError(f"{setting}: invalid value {value!r}; expected one of " + ", ".join(SEVERITIES))
    elif field == "threshold":
        ok = _is_number(value) and math.isfinite(value) and value > 0
        if ok and alert.threshold_max is not None:
            ok = value <= alert.threshold_max
        if not ok:
            bound = "a number greater than 0"
            if alert.threshold_max is not None:
                bound += f" and at most {_number(alert.threshold_max)}"
            raise ValueError(f"{setting}: invalid value {value!r}; expected {bound} ({alert.threshold_meaning})")


def _component_jobs(jobs: Mapping[str, str], components: Iterable[str]) -> dict[str, str]:
    wanted = list(components) if not isinstance(components, str) else [components]
    for component in wanted:
        if component not in COMPONENTS:
            raise ValueError(f"unknown Calico component {component!r}; expected some of " + ", ".join(COMPONENTS))
    for component in jobs:
        if component not in COMPONENTS:
            raise ValueError(f"jobs: unknown Calico component {component!r}; expected some of " + ", ".join(COMPONENTS))
    result = {}
    for component in COMPONENTS:
        if component not in wanted:
            continue
        job = jobs.get(component, DEFAULT_JOBS[component])
        if not isinstance(job, str) or not job:
            raise ValueError(f"jobs[{component!r}]: expected a non-empty job label value, got {job!r}")
        result[component] = job
    return result


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str) or any(ch.isspace() for ch in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.username


def is_runbook_url_pattern(value: object) -> bool:
    """An http(s) URL with ``{alert}`` (the alert name) or ``{anchor}`` (its lower-case runbook anchor)."""
    if not _is_http_url(value) or not any(p in value for p in RUNBOOK_PLACEHOLDERS):  # type: ignore[operator]
        return False
    rest = str(value)
    for placeholder in RUNBOOK_PLACEHOLDERS:
        rest = rest.replace(placeholder, "")
    return "{" not in rest and "}" not in rest


def runbook_anchor(alert_name: str) -> str:
    """The anchor of an alert's section in docs/runbooks.md (GitHub's, and most renderers', for ``## Name``)."""
    return alert_name.lower()


def _links(
    alert: AlertDefinition,
    runbook_url_pattern: str | None,
    grafana_url: str | None,
    dashboard_cluster_label: str | None,
) -> dict[str, str]:
    anchor = runbook_anchor(alert.name)
    if runbook_url_pattern is None:
        links = {"runbook": f"calico-monitoring {RUNBOOKS_PATH}#{anchor}"}
    else:
        links = {"runbook_url": runbook_url_pattern.replace("{alert}", alert.name).replace("{anchor}", anchor)}
    if grafana_url is not None:
        # The last 3 hours around now; each variable the alert's labels can select, when it has the label.
        labels = [] if alert.expr.startswith("absent(") else [(n, n) for n in alert.dashboard_vars]
        if dashboard_cluster_label and not alert.expr.startswith("absent("):
            labels.insert(0, ("cluster", dashboard_cluster_label))
        query = "".join(
            f"{{{{ with $labels.{label} }}}}&var-{var}={{{{ . | urlquery }}}}{{{{ end }}}}" for var, label in labels
        )
        links["dashboard_url"] = (
            f"{grafana_url.rstrip('/')}/d/{DASHBOARD_UIDS[alert.component]}?from=now-3h&to=now{query}"
        )
    return links


def alert_thresholds(overrides: Mapping[str, Mapping[str, object]] | None = None) -> dict[str, float]:
    """The threshold each alert that has one fires at, after ``overrides`` (for the panels that draw it)."""
    validate_overrides(overrides)
    overrides = overrides or {}
    return {
        a.name: float(overrides.get(a.name, {}).get("threshold", a.threshold))  # type: ignore[arg-type]
        for a in ALERTS
        if a.threshold is not None
    }


def group_name(component: str) -> str:
    return f"calico-{component}.rules"


# The annotations the program writes on an alert (rule annotations of a stack may not replace them).
ALERT_ANNOTATIONS = ("summary", "description", "runbook", "runbook_url", "dashboard_url")


def build_rule_groups(
    jobs: Mapping[str, str],
    overrides: Mapping[str, Mapping[str, object]] | None = None,
    runbook_url_pattern: str | None = None,
    components: Iterable[str] = ("felix", "typha", "kube-controllers"),
    include_alerts: bool = True,
    cluster_label: str | None = None,
    grafana_url: str | None = None,
    dashboard_cluster_label: str | None = None,
    rule_labels: Mapping[str, str] | None = None,
    rule_annotations: Mapping[str, str] | None = None,
) -> list[dict]:
    """Return the ``spec.groups`` of a PrometheusRule for the given components.

    ``jobs`` maps component to its scrape job label value; a component missing
    from it uses ``DEFAULT_JOBS``.  Groups come in the order of ``COMPONENTS``
    whatever the order of ``components``; each holds that component's recording
    rules first (so its alerts see values from the same evaluation), then its
    enabled alerts (none with ``include_alerts=False``: the recording rules the
    dashboards use).  Overrides for alerts of components not built are checked
    but otherwise ignored.  ``cluster_label`` (say ``cluster``, as Thanos, Mimir
    or a multi-cluster Prometheus add) is kept by every aggregation and join, so
    one rule set evaluated over many clusters never mixes them.

    Each alert links its runbook: ``runbook_url`` from ``runbook_url_pattern``, or, without
    one, a ``runbook`` annotation naming its section of the shipped docs/runbooks.md. With
    ``grafana_url`` it also links its component's dashboard (``dashboard_url``), with the
    node or pool (and ``dashboard_cluster_label``'s cluster) of the alert selected.
    """
    validate_overrides(overrides)
    overrides = overrides or {}
    if runbook_url_pattern is not None and not is_runbook_url_pattern(runbook_url_pattern):
        raise ValueError(
            f"runbook_url_pattern: expected an http(s) URL with {' or '.join(RUNBOOK_PLACEHOLDERS)}, "
            f"got {runbook_url_pattern!r}"
        )
    if grafana_url is not None and not _is_http_url(grafana_url):
        raise ValueError(f"grafana_url: expected an http(s) URL, got {grafana_url!r}")
    if dashboard_cluster_label is not None and not is_label_name(dashboard_cluster_label):
        raise ValueError(f"dashboard_cluster_label: expected a Prometheus label name, got {dashboard_cluster_label!r}")
    component_jobs = _component_jobs(jobs, components)
    if cluster_label is not None and not is_label_name(cluster_label):
        raise ValueError(f"cluster_label: expected a Prometheus label name, got {cluster_label!r}")
    cluster = f"{cluster_label}, " if cluster_label else ""

    groups: list[dict] = []
    for component, job in component_jobs.items():
        job_literal = promql_string(job)
        rules: list[dict] = []
        for rec in RECORDING_RULES:
            if rec.component != component:
                continue
            rules.append(
                {
                    "record": rec.record,
                    "expr": _substitute(_squash(rec.expr), {"job": job_literal, "c": cluster}),
                }
            )
        for alert in ALERTS:
            if alert.component != component or not include_alerts:
                continue
            settings = overrides.get(alert.name, {})
            if not settings.get("enabled", True):
                continue
            threshold = settings.get("threshold", alert.threshold)
            duration = str(settings.get("for", alert.for_))
            values = {"job": job_literal, "for": duration, "c": cluster}
            if threshold is not None:
                values["threshold"] = _number(threshold)
                values["threshold_text"] = _threshold_text(alert, threshold)
            rules.append(
                {
                    "alert": alert.name,
                    "expr": _substitute(_squash(alert.expr), values),
                    "for": duration,
                    "labels": {**(rule_labels or {}), "severity": str(settings.get("severity", alert.severity))},
                    "annotations": {
                        **(rule_annotations or {}),
                        "summary": _substitute(alert.summary, values),
                        "description": _substitute(alert.description, values),
                        **_links(alert, runbook_url_pattern, grafana_url, dashboard_cluster_label),
                    },
                }
            )
        groups.append({"name": group_name(component), "rules": rules})
    return groups
