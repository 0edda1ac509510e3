"""calico-kube-controllers' recording rules and alerts.

calico-kube-controllers (port 9094) exports ``ipam_ippool_size{ippool}``,
``ipam_ippool_reserved{ippool}`` (newer releases only) and ``ipam_allocations_in_use{ippool,node}``
(checked against projectcalico/calico); the ``node`` label there is the IPAM node, so that
target must not get a ``node`` target label.
"""

from __future__ import annotations

from alerts.templates import COUNT_VALUE, AlertDefinition, RecordingRule, down_alert, targets_missing_alert

# Recording rule names; the dashboards query the same series.
RECORD_IPPOOL_UTILISATION = "calico:ipam_ippool_utilisation:ratio"
RECORD_IPPOOL_BORROWED = "calico:ipam_allocations_borrowed:sum"

# The IPAM node of a kube-controllers series: `node`, or `exported_node` when the scrape
# added a `node` target label of its own.
_IPAM_NODE = "{{ with $labels.exported_node }}{{ . }}{{ else }}{{ $labels.node }}{{ end }}"

RECORDING_RULES: tuple[RecordingRule, ...] = (
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

ALERTS: tuple[AlertDefinition, ...] = (
    down_alert(
        "kube-controllers",
        subject="calico-kube-controllers pod {{ $labels.pod }}",
        consequence="While it is down, IPAM garbage collection, node cleanup and IP pool metrics stop.",
        why="warning: IPAM clean-up pauses; nothing breaks at once",
    ),
    targets_missing_alert(
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
            f"Nodes hold {COUNT_VALUE} addresses borrowed from blocks affine to other "
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
            f"{COUNT_VALUE} addresses of IP pool {{{{ $labels.ippool }}}} on node "
            f"{_IPAM_NODE} have looked leaked for more than ${{for}}. "
            "calico-kube-controllers releases candidates after a grace period (15 "
            "minutes by default), so they should have gone back to zero."
        ),
    ),
)
