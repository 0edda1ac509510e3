"""A small Calico cluster built from the hand-written target expositions, as promtool input series.

Ten Felix nodes, three Typha replicas and one calico-kube-controllers pod, each serving
one fixture from tests/fixtures/metrics/targets/ (one scrape a minute; a sample listed
under ``# moves:`` grows by its step at each scrape), plus kube-state-metrics' node
Ready condition. Scenarios change what happens over three hours: a restart, a scrape
gap, a node drain. Only the families the rules select are written out; the rest cannot
change what a rule computes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tests.support.expositions import Exposition, Sample, load_expositions

MINUTES = 180  # samples at 0m, 1m, ..., 180m
Token = float | str  # a value, "_" (no sample) or "stale"

EXPOSITIONS = load_expositions()


@dataclass
class Target:
    """One scrape target: its labels and the exposition it serves."""

    job: str
    pod: str
    instance: str
    node: str | None  # the `node` target label (Felix, Typha); None for kube-controllers
    exposition: Exposition
    namespace: str = "calico-system"

    def labels(self) -> dict[str, str]:
        labels = {"job": self.job, "namespace": self.namespace, "pod": self.pod, "instance": self.instance}
        if self.node is not None:
            labels["node"] = self.node
        return labels


@dataclass
class Timeline:
    """What one target does minute by minute."""

    target: Target
    # Minutes the target answers; others are a failed scrape (up 0, no samples).
    up: Callable[[int], bool] = lambda minute: True
    # Minutes the process had been running at its first sample (a long-running process
    # by default; 0 for one that starts with the scenario).
    born: int = 600
    # First minute the target exists (a pod started) and first minute it is gone for good.
    start: int = 0
    end: int = MINUTES + 1
    # Minutes at which the process restarts in place: counters start again from their
    # first value, the start time changes, Felix goes through its start-up sync states.
    restarts: tuple[int, ...] = ()
    # Overrides of single samples: (sample name, minute) -> value.
    overrides: dict[tuple[str, int], float] = field(default_factory=dict)


FELIX_JOB = "monitoring/felix"
TYPHA_JOB = "monitoring/calico-typha"
KC_JOB = "monitoring/calico-kube-controllers"


def felix_target(i: int, fixture: str = "felix-iptables-quiet", pod_suffix: str = "") -> Target:
    return Target(
        FELIX_JOB, f"calico-node-n{i:02d}{pod_suffix}", f"10.0.0.{i}:9091", f"node-{i:02d}", EXPOSITIONS[fixture]
    )


def typha_target(i: int, fixture: str = "typha-quiet", pod_suffix: str = "", node: int | None = None) -> Target:
    return Target(
        TYPHA_JOB,
        f"calico-typha-{i}{pod_suffix}",
        f"10.0.{1 if not pod_suffix else 3}.{i}:9093",
        f"node-{node or i:02d}",
        EXPOSITIONS[fixture],
    )


def kc_target(fixture: str = "kube-controllers-quiet", pod_suffix: str = "") -> Target:
    return Target(
        KC_JOB,
        f"calico-kube-controllers-1{pod_suffix}",
        f"10.0.2.1{pod_suffix and '1'}:9094",
        None,
        EXPOSITIONS[fixture],
    )


def sample_value(exposition: Exposition, sample: Sample, minutes_running: int) -> float:
    """The value at the ``minutes_running``-th scrape of a process that started at 0."""
    step = exposition.moves.get(sample.name, 0.0)
    return sample.value + minutes_running * step


def _start_up_value(sample: Sample, minutes_running: int, value: float) -> float:
    """Felix reports waiting (1), then resyncing (2), then in sync (3) in its first minutes."""
    if sample.name == "felix_resync_state":
        return 1.0 if minutes_running == 0 else 2.0 if minutes_running < 3 else value
    return value


def series_tokens(timeline: Timeline, sample: Sample, restart_starts: dict[int, float]) -> list[Token]:
    tokens: list[Token] = []
    exposition = timeline.target.exposition
    for minute in range(MINUTES + 1):
        if minute < timeline.start:
            tokens.append("_")
            continue
        if minute == timeline.end:
            tokens.append("stale")
            continue
        if minute > timeline.end or not timeline.up(minute):
            tokens.append("_")
            continue
        began = max([timeline.start, *[r for r in timeline.restarts if r <= minute]])
        running = minute - began + (timeline.born if began == timeline.start else 0)
        value = sample_value(exposition, sample, running)
        if sample.name == "process_start_time_seconds":
            value = restart_starts.get(began, value)
        value = _start_up_value(sample, running, value)
        value = timeline.overrides.get((sample.name, minute), value)
        tokens.append(value)
    return tokens


def up_tokens(timeline: Timeline) -> list[Token]:
    tokens: list[Token] = []
    for minute in range(MINUTES + 1):
        if minute < timeline.start or minute > timeline.end:
            tokens.append("_")
        elif minute == timeline.end:
            tokens.append("stale")
        else:
            tokens.append(1.0 if timeline.up(minute) else 0.0)
    return tokens


def _same(a: Token, b: Token) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def compress(tokens: list[Token]) -> str:
    """promtool's series notation: runs of one value as ``vxN``, straight lines as ``a+bxN``, NaN spelt out."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "stale":
            out.append("stale")
            i += 1
            continue
        j = i
        while j + 1 < len(tokens) and _same(tokens[j + 1], token):
            j += 1
        if token == "_":
            out.append("_" if j == i else f"_x{j - i + 1}")
            i = j + 1
            continue
        assert isinstance(token, float)
        if math.isnan(token):
            out.extend(["NaN"] * (j - i + 1))
            i = j + 1
            continue
        if j > i:
            out.append(f"{_number(token)}x{j - i}")
            i = j + 1
            continue
        # A straight line: a, a+d, a+2d, ...
        k = i
        if i + 1 < len(tokens) and isinstance(tokens[i + 1], float) and not math.isnan(tokens[i + 1]):
            step = tokens[i + 1] - token  # type: ignore[operator]
            while (
                k + 1 < len(tokens)
                and isinstance(tokens[k + 1], float)
                and not math.isnan(tokens[k + 1])
                and math.isclose(tokens[k + 1] - tokens[k], step, rel_tol=1e-9, abs_tol=1e-12)  # type: ignore[operator]
            ):
                k += 1
            if k > i + 1:
                out.append(f"{_number(token)}{'+' if step >= 0 else '-'}{_number(abs(step))}x{k - i}")
                i = k + 1
                continue
        out.append(_number(token))
        i += 1
    return " ".join(out)


def _series_name(name: str, labels: Iterable[tuple[str, str]]) -> str:
    body = ", ".join(f'{k}="{v}"' for k, v in labels)
    return f"{name}{{{body}}}"


def input_series(
    timelines: list[Timeline], selected: set[str], not_ready: dict[str, int] | None = None
) -> list[dict[str, str]]:
    """promtool ``input_series`` for the timelines, limited to the families in ``selected``.

    ``not_ready`` maps a node name to the minute from which Kubernetes reports it NotReady.
    """
    series = []
    nodes: set[str] = set()
    for timeline in timelines:
        target = timeline.target
        labels = target.labels()
        if target.job == FELIX_JOB and target.node:
            nodes.add(target.node)
        series.append({"series": _series_name("up", labels.items()), "values": compress(up_tokens(timeline))})
        restart_starts = {began: 1_764_000_000.0 + 60 * began for began in (timeline.start, *timeline.restarts)}
        for sample in target.exposition.samples:
            family = target.exposition.family_of(sample.name)
            if family not in selected and sample.name not in selected:
                continue
            # A scrape target's labels win over the exposition's (honor_labels: false):
            # the IPAM node label of kube-controllers has no `node` target label to clash with.
            merged = dict(sample.labels)
            merged.update(labels)
            ordered = [*labels.items(), *[(k, v) for k, v in merged.items() if k not in labels]]
            series.append(
                {
                    "series": _series_name(sample.name, ordered),
                    "values": compress(series_tokens(timeline, sample, restart_starts)),
                }
            )
    for node in sorted(nodes):
        since = (not_ready or {}).get(node)
        tokens: list[Token] = [0.0 if since is not None and m >= since else 1.0 for m in range(MINUTES + 1)]
        labels = {"job": "kube-state-metrics", "node": node, "condition": "Ready", "status": "true"}
        series.append(
            {"series": _series_name("kube_node_status_condition", labels.items()), "values": compress(tokens)}
        )
    return series


_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def selected_families(exprs: Iterable[str], known: Iterable[str]) -> set[str]:
    """Metric families the expressions name (among ``known``)."""
    known = set(known)
    names: set[str] = set()
    for expr in exprs:
        names |= {name for name in _NAME.findall(expr) if name in known}
    return names
