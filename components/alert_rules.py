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

DEFAULT_RUNBOOK_BASE_URL = "https://github.com/calico-monitoring/calico-monitoring/blob/main/docs/runbooks.md"

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
RECORD_TYPHA_DROP_RATE = "calico:typha_connections_dropped:rate5m"
RECORD_IPPOOL_UTILISATION = "calico:ipam_ippool_utilisation:ratio"

# Names the Felix node in annotations: the `node` target label when the scrape
# configuration adds one, otherwise the scrape address.
_NODE = "{{ with $labels.node }}{{ . }}{{ else }}{{ $labels.instance }}{{ end }}"
_FELIX_TARGET = "pod {{ $labels.pod }}, target {{ $labels.instance }}"
# The alert value as a per-second rate (0.0167) and as a whole count (12).
_RATE = '{{ printf "%.3g" $value }}'
_COUNT = '{{ printf "%.0f" $value }}'


@dataclass(frozen=True)
class RecordingRule:
    """A recording rule; ``expr`` uses the ``${job}`` placeholder."""

    record: str
    component: str
    expr: str


@dataclass(frozen=True)
class AlertDefinition:
    """One alert.

    Templates may use ``${job}`` (a quoted PromQL string literal),
    ``${threshold}`` (a PromQL number), ``${threshold_text}`` (the threshold
    for people to read) and ``${for}``.  ``{{ ... }}`` is Prometheus alert
    templating and is passed through untouched.
    """

    name: str
    component: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    threshold: float | None = None
    # Inclusive upper bound for the threshold, and what the threshold means.
    threshold_max: float | None = None
    threshold_meaning: str = ""
    # How ${threshold_text} shows the threshold: "number" (3), "seconds" (5s)
    # or "percent" (0.9 -> 90%).
    threshold_style: str = "number"

    @property
    def fields(self) -> tuple[str, ...]:
        """Override fields this alert accepts."""
        base = ("enabled", "for", "severity")
        return (*base, "threshold") if self.threshold is not None else base


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
            max by (job, namespace, ippool) (
                sum by (job, namespace, pod, ippool) (ipam_allocations_in_use{job=${job}})
              /
                (
                    max by (job, namespace, pod, ippool) (ipam_ippool_size{job=${job}})
                  -
                    (
                        max by (job, namespace, pod, ippool) (ipam_ippool_reserved{job=${job}})
                      or
                        max by (job, namespace, pod, ippool) (ipam_ippool_size{job=${job}}) * 0
                    )
                )
            )
        """,
    ),
)


ALERTS: tuple[AlertDefinition, ...] = (
    # --- Felix ---------------------------------------------------------------
    AlertDefinition(
        name="CalicoFelixDown",
        component="felix",
        expr="up{job=${job}} == 0",
        for_="5m",
        severity="critical",
        summary=f"Felix on node {_NODE} cannot be scraped.",
        description=(
            f"Prometheus has failed to scrape Felix ({_FELIX_TARGET}) for more "
            "than ${for}. Either calico-node is not running properly on the node "
            "or its metrics port is unreachable; while Felix is down, policy, "
            "route and endpoint changes are not programmed on that node."
        ),
    ),
    AlertDefinition(
        name="CalicoFelixTargetsMissing",
        component="felix",
        expr="absent(up{job=${job}})",
        for_="15m",
        severity="critical",
        summary="Prometheus has no Felix targets for job {{ $labels.job }}.",
        description=(
            "No scrape target with job {{ $labels.job }} has existed for more "
            "than ${for}. Either the calico-node DaemonSet is missing or Felix "
            "metrics are not being discovered (metrics disabled, monitor "
            "selector or namespace mismatch), so no other Felix alert can fire."
        ),
    ),
    AlertDefinition(
        name="CalicoFelixDataplaneFailures",
        component="felix",
        expr=RECORD_FELIX_FAILURE_RATE + "{job=${job}} > 0",
        for_="15m",
        severity="critical",
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
        name="CalicoFelixIptablesErrors",
        component="felix",
        # Both counters are registered together (felix/iptables/table.go), so
        # adding them never loses a target.  A {__name__=~...} selector inside
        # rate() would give duplicate label sets once the names are dropped.
        expr=(
            "rate(felix_iptables_restore_errors{job=${job}}[5m]) + rate(felix_iptables_save_errors{job=${job}}[5m]) > 0"
        ),
        for_="15m",
        severity="warning",
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
        expr="rate(felix_ipset_errors{job=${job}}[5m]) > 0",
        for_="15m",
        severity="warning",
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
        # Exported since Calico v3.29 (felix/nftables/table.go, ipsets.go),
        # always all three; older Felix has no nftables mode and no series.
        expr=(
            "rate(felix_nft_errors{job=${job}}[5m])"
            " + rate(felix_nft_set_errors{job=${job}}[5m])"
            " + rate(felix_nft_list_errors{job=${job}}[5m]) > 0"
        ),
        for_="15m",
        severity="warning",
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
        expr=RECORD_FELIX_APPLY_TIME_P99 + "{job=${job}} > ${threshold}",
        for_="15m",
        severity="warning",
        threshold=5,
        threshold_meaning="seconds (99th percentile of dataplane apply time)",
        threshold_style="seconds",
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
        expr="increase(felix_resyncs_started{job=${job}}[1h]) > ${threshold}",
        for_="10m",
        severity="warning",
        threshold=3,
        threshold_meaning="datastore resyncs started within one hour",
        summary=f"Felix on node {_NODE} keeps resyncing with the datastore.",
        description=(
            f"Felix ({_FELIX_TARGET}) started "
            f"about {_COUNT} datastore resyncs in the last hour, "
            "more than ${threshold_text}. Its connection to Typha or the "
            "datastore keeps being lost, and each resync costs CPU on the node "
            "and load on Typha or the API server."
        ),
    ),
    # --- Typha ---------------------------------------------------------------
    AlertDefinition(
        name="CalicoTyphaDown",
        component="typha",
        expr="up{job=${job}} == 0",
        for_="5m",
        severity="warning",
        summary="Typha pod {{ $labels.pod }} cannot be scraped.",
        description=(
            "Prometheus has failed to scrape Typha (pod {{ $labels.pod }}, "
            "target {{ $labels.instance }}) for more than ${for}. Felix "
            "instances connected to it must reconnect to the remaining Typha "
            "replicas."
        ),
    ),
    AlertDefinition(
        name="CalicoTyphaTargetsMissing",
        component="typha",
        expr="absent(up{job=${job}})",
        for_="15m",
        severity="critical",
        summary="Prometheus has no Typha targets for job {{ $labels.job }}.",
        description=(
            "No scrape target with job {{ $labels.job }} has existed for more "
            "than ${for}. Either no Typha pod is running, in which case Felix "
            "cannot receive datastore updates, or Typha metrics are not being "
            "discovered."
        ),
    ),
    AlertDefinition(
        name="CalicoTyphaConnectionsDropped",
        component="typha",
        expr=RECORD_TYPHA_DROP_RATE + "{job=${job}} > 0",
        for_="30m",
        severity="warning",
        summary="Typha pod {{ $labels.pod }} keeps dropping client connections.",
        description=(
            "Typha (pod {{ $labels.pod }}) has been closing Felix connections to "
            "shed load for more than ${for}, currently "
            f"{_RATE} per second. Rebalancing after a Typha restart or "
            "scale-up settles within minutes; continuous drops mean Typha lacks capacity or "
            "clients keep reconnecting."
        ),
    ),
    # --- calico-kube-controllers --------------------------------------------
    AlertDefinition(
        name="CalicoKubeControllersDown",
        component="kube-controllers",
        expr="up{job=${job}} == 0",
        for_="5m",
        severity="warning",
        summary="calico-kube-controllers pod {{ $labels.pod }} cannot be scraped.",
        description=(
            "Prometheus has failed to scrape calico-kube-controllers (pod "
            "{{ $labels.pod }}, target {{ $labels.instance }}) for more than "
            "${for}. While it is down, IPAM garbage collection, node cleanup "
            "and IP pool metrics stop."
        ),
    ),
    AlertDefinition(
        name="CalicoKubeControllersTargetsMissing",
        component="kube-controllers",
        expr="absent(up{job=${job}})",
        for_="15m",
        severity="warning",
        summary=("Prometheus has no calico-kube-controllers targets for job {{ $labels.job }}."),
        description=(
            "No scrape target with job {{ $labels.job }} has existed for more "
            "than ${for}. Either calico-kube-controllers is not running or its "
            "metrics are not being discovered, so IP pool exhaustion cannot be "
            "detected."
        ),
    ),
    AlertDefinition(
        name="CalicoIPPoolNearlyExhausted",
        component="kube-controllers",
        expr=RECORD_IPPOOL_UTILISATION + "{job=${job}} > ${threshold}",
        for_="15m",
        severity="warning",
        threshold=0.9,
        threshold_max=1,
        threshold_meaning="fraction of the pool's usable addresses in use",
        threshold_style="percent",
        summary="Calico IP pool {{ $labels.ippool }} is nearly exhausted.",
        description=(
            "{{ $value | humanizePercentage }} of the usable addresses in IP "
            "pool {{ $labels.ippool }} are allocated, above ${threshold_text}, "
            "and have been for more than ${for}. When the pool is full, new "
            "pods that need an address from it cannot start."
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

_PLACEHOLDER_RE = re.compile(r"\$\{(job|threshold|threshold_text|for)\}")


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


def group_name(component: str) -> str:
    return f"calico-{component}.rules"


def build_rule_groups(
    jobs: Mapping[str, str],
    overrides: Mapping[str, Mapping[str, object]] | None = None,
    runbook_base_url: str = DEFAULT_RUNBOOK_BASE_URL,
    components: Iterable[str] = ("felix", "typha", "kube-controllers"),
    include_alerts: bool = True,
) -> list[dict]:
    """Return the ``spec.groups`` of a PrometheusRule for the given components.

    ``jobs`` maps component to its scrape job label value; a component missing
    from it uses ``DEFAULT_JOBS``.  Groups come in the order of ``COMPONENTS``
    whatever the order of ``components``; each holds that component's recording
    rules first (so its alerts see values from the same evaluation), then its
    enabled alerts (none with ``include_alerts=False``: the recording rules the
    dashboards use).  Overrides for alerts of components not built are checked
    but otherwise ignored.
    """
    validate_overrides(overrides)
    overrides = overrides or {}
    if not isinstance(runbook_base_url, str) or not runbook_base_url:
        raise ValueError(f"runbook_base_url: expected a non-empty URL, got {runbook_base_url!r}")
    component_jobs = _component_jobs(jobs, components)

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
                    "expr": _substitute(_squash(rec.expr), {"job": job_literal}),
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
            values = {"job": job_literal, "for": duration}
            if threshold is not None:
                values["threshold"] = _number(threshold)
                values["threshold_text"] = _threshold_text(alert, threshold)
            rules.append(
                {
                    "alert": alert.name,
                    "expr": _substitute(_squash(alert.expr), values),
                    "for": duration,
                    "labels": {"severity": str(settings.get("severity", alert.severity))},
                    "annotations": {
                        "summary": _substitute(alert.summary, values),
                        "description": _substitute(alert.description, values),
                        "runbook_url": f"{runbook_base_url}#{alert.name.lower()}",
                    },
                }
            )
        groups.append({"name": group_name(component), "rules": rules})
    return groups
