"""Felix's recording rules and alerts.

Metric facts the rules rely on (checked against projectcalico/calico): Felix (port 9091)
exports plain counters without a ``_total`` suffix: ``felix_int_dataplane_failures``,
``felix_resyncs_started``, ``felix_iptables_restore_errors``, ``felix_iptables_save_errors``,
``felix_ipset_errors``, ``felix_nft_errors``, ``felix_nft_set_errors`` and
``felix_nft_list_errors``.  ``felix_int_dataplane_apply_time_seconds`` is a summary with the
quantiles 0.5, 0.9 and 0.99.  None of them carries a node label, so the rules expect the
scrape configuration to add a ``node`` target label (from ``__meta_kubernetes_pod_node_name``);
where it is missing the annotations fall back to ``instance``.
"""

from __future__ import annotations

from alerts.templates import (
    COUNT_VALUE,
    POD_AND_TARGET,
    RATE_VALUE,
    SHARE_VALUE,
    AlertDefinition,
    RecordingRule,
    down_alert,
    targets_missing_alert,
)

# Recording rule names; the dashboards query the same series.
RECORD_FELIX_FAILURE_RATE = "calico:felix_int_dataplane_failures:rate5m"
RECORD_FELIX_APPLY_TIME_P99 = "calico:felix_int_dataplane_apply_time_seconds:p99"
RECORD_FELIX_RESYNCS = "calico:felix_resyncs_started:increase15m"
RECORD_FELIX_RESTARTS = "calico:felix_process_restarts:changes15m"
RECORD_FELIX_RESYNCING_RATIO = "calico:felix_resyncing_targets:ratio"

# Nodes Kubernetes does not report Ready (kube-state-metrics). Felix on such a node is
# expected to be unreachable: the node's own alerts (KubeNodeNotReady) cover it. When
# kube-state-metrics is absent the selector is empty and suppresses nothing.
NODE_NOT_READY = 'kube_node_status_condition{condition="Ready", status="true"} == 0'

# Names the Felix node in annotations: the `node` target label when the scrape
# configuration adds one, otherwise the scrape address.
_NODE = "{{ with $labels.node }}{{ . }}{{ else }}{{ $labels.instance }}{{ end }}"

_CRITICAL_BREADTH = "critical: the symptom is on a large share of nodes, so users cluster-wide are affected; one page"
_WARNING_NODE = "warning: one node's cause; held back while the cluster-wide alert for it fires"


def _breadth(selected: str) -> str:
    """Share of the job's Felix targets in ``selected`` above ${threshold}, and at least two of them.

    One node is never "widespread", however small the cluster.
    """
    return (
        f"count by (${{c}}job) ({selected}) / count by (${{c}}job) (up{{job=${{job}}}}) > ${{threshold}}"
        f" and on (${{c}}job) count by (${{c}}job) ({selected}) > 1"
    )


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
)

ALERTS: tuple[AlertDefinition, ...] = (
    down_alert(
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
            f"{SHARE_VALUE} of the Felix targets of job {{{{ $labels.job }}}} on Ready nodes "
            "have been down for more than ${for} (threshold ${threshold_text}). One "
            "cause is likely: a calico-node rollout gone wrong, Felix metrics turned "
            "off, or a NetworkPolicy or firewall blocking the metrics port."
        ),
    ),
    targets_missing_alert(
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
            f"The Felix process ({POD_AND_TARGET}) started {COUNT_VALUE} times in the last "
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
            f"Felix ({POD_AND_TARGET}) has been recording failed dataplane "
            "updates for more than ${for}, currently "
            f"{RATE_VALUE} failures per second. The node's iptables/nftables, IP "
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
            f"{SHARE_VALUE} of the Felix targets of job {{{{ $labels.job }}}} have been "
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
            f"Felix ({POD_AND_TARGET}) has been getting errors from "
            "iptables-save or iptables-restore for more than ${for}, currently "
            f"{RATE_VALUE} errors per second."
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
            f"Felix ({POD_AND_TARGET}) has been getting errors from the ipset "
            "command for more than ${for}, currently "
            f"{RATE_VALUE} errors per second."
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
            f"Felix ({POD_AND_TARGET}) has been getting errors writing or listing "
            "nftables rules, chains or sets for more than ${for}, currently "
            f"{RATE_VALUE} errors per second."
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
            f"The 99th percentile of Felix's dataplane apply time ({POD_AND_TARGET}) "
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
            f"Felix ({POD_AND_TARGET}) started about {COUNT_VALUE} datastore resyncs in the "
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
            f"{SHARE_VALUE} of the Felix targets of job {{{{ $labels.job }}}} resynced with "
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
            f"Felix ({POD_AND_TARGET}) has reported sync state {COUNT_VALUE} (1 waiting "
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
            f"{SHARE_VALUE} of the Felix targets of job {{{{ $labels.job }}}} have not been "
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
            f"Felix ({POD_AND_TARGET}) has had {COUNT_VALUE} eBPF endpoints left dirty "
            "after a failure for more than ${for}. Their policy may be out of date."
        ),
    ),
)
