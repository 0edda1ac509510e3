"""Typha's recording rules and alerts.

Typha (port 9093) exports the counter ``typha_connections_dropped`` (checked against
projectcalico/calico), which counts connections Typha closed because it held more than its share.
"""

from __future__ import annotations

from alerts.templates import RATE_VALUE, AlertDefinition, RecordingRule, down_alert, targets_missing_alert

# Recording rule name; the dashboards query the same series.
RECORD_TYPHA_DROP_RATE = "calico:typha_connections_dropped:rate5m"

RECORDING_RULES: tuple[RecordingRule, ...] = (
    RecordingRule(
        record=RECORD_TYPHA_DROP_RATE,
        component="typha",
        expr="rate(typha_connections_dropped{job=${job}}[5m])",
    ),
)

ALERTS: tuple[AlertDefinition, ...] = (
    down_alert(
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
    targets_missing_alert(
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
            f"{RATE_VALUE} per second. Rebalancing after a Typha restart or "
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
)
