"""The target expositions in tests/fixtures/metrics/targets/ and the metric registry.

Each ``*.prom`` file there is one scrape of one Calico process, in the classic text
format: the quiet ones of Felix (iptables, nftables), Typha and kube-controllers captured
from the real processes by ``make fixtures`` (tests/e2e/capture_expositions.py), the others
(eBPF, the ``*-trouble`` fault models) written by hand. Each has a comment header:

* ``# target: component=<felix|typha|kube-controllers> [mode=<iptables|nftables|bpf>] state=<quiet|trouble>``
* ``# moves: <sample name> <increment>``: while the test server serves the file, every
  sample with that name (whatever its labels) grows by the increment at each scrape. Everything else stays as
  written, so an error counter that does not move has a rate of exactly 0.

``registry.yaml`` next to the directory lists the families Calico v3.31.0 exports, as read
from its source and checked against the real processes (``make fixtures``): type, label names,
the processes that export it, and when they are present.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

METRICS_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "metrics"
TARGETS_DIR = METRICS_DIR / "targets"
REGISTRY_FILE = METRICS_DIR / "registry.yaml"

MODES = ("iptables", "nftables", "bpf")
COMPONENTS = ("felix", "typha", "kube-controllers")
STATES = ("quiet", "trouble")

_TARGET = re.compile(r"^# target: (?P<fields>.+)$")
_MOVES = re.compile(r"^# moves: (?P<name>[A-Za-z_:][A-Za-z0-9_:]*) (?P<step>\S+)\s*$")
_TYPE = re.compile(r"^# TYPE (?P<name>\S+) (?P<type>\w+)\s*$")
_SAMPLE = re.compile(r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)\s*$")
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


@dataclass(frozen=True)
class RegistryEntry:
    name: str
    components: tuple[str, ...]  # felix, typha, kube-controllers; runtime: all three
    type: str
    labels: tuple[str, ...]
    source: str
    presence: str
    active: tuple[str, ...]

    def exported_by(self, component: str) -> bool:
        return component in self.components or "runtime" in self.components


def load_registry(path: Path = REGISTRY_FILE) -> dict[str, RegistryEntry]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        name: RegistryEntry(
            name=name,
            components=tuple([entry["component"]] if isinstance(entry["component"], str) else entry["component"]),
            type=entry["type"],
            labels=tuple(entry["labels"]),
            source=entry["source"],
            presence=entry["presence"],
            active=tuple(entry.get("active", MODES)),
        )
        for name, entry in data["families"].items()
    }


@dataclass(frozen=True)
class Sample:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float

    def label(self, name: str) -> str | None:
        return dict(self.labels).get(name)


def parse_labels(text: str | None) -> tuple[tuple[str, str], ...]:
    if not text:
        return ()
    pairs = []
    pos = 0
    while pos < len(text):
        match = _LABEL.match(text, pos)
        if not match:
            raise ValueError(f"cannot parse labels {{{text}}}")
        pairs.append((match[1], match[2]))
        pos = match.end()
    return tuple(pairs)


@dataclass
class Exposition:
    """One fixture file."""

    path: Path
    component: str
    state: str
    mode: str | None
    moves: dict[str, float]
    types: dict[str, str]
    samples: list[Sample]
    lines: list[str] = field(repr=False)

    @property
    def name(self) -> str:
        return self.path.stem

    def family_of(self, sample_name: str) -> str:
        if sample_name in self.types:
            return sample_name
        for suffix in ("_sum", "_count", "_bucket"):
            base = sample_name.removesuffix(suffix)
            kinds = ("histogram",) if suffix == "_bucket" else ("summary", "histogram")
            if sample_name.endswith(suffix) and self.types.get(base) in kinds:
                return base
        raise KeyError(f"{self.name}: sample {sample_name} has no # TYPE line")

    def families(self) -> set[str]:
        return set(self.types)

    def samples_of(self, family: str) -> list[Sample]:
        return [s for s in self.samples if self.family_of(s.name) == family]

    def render(self, scrape: int) -> str:
        """The exposition served at the ``scrape``-th scrape (1, 2, ...)."""
        out = []
        for line in self.lines:
            match = _SAMPLE.match(line)
            if match and match["name"] in self.moves:
                value = float(match["value"]) + (scrape - 1) * self.moves[match["name"]]
                labels = "{" + match["labels"] + "}" if match["labels"] is not None else ""
                line = f"{match['name']}{labels} {value!r}"
            out.append(line)
        return "\n".join(out).strip() + "\n"


def load_exposition(path: Path) -> Exposition:
    lines = path.read_text(encoding="utf-8").splitlines()
    meta: dict[str, str] = {}
    moves: dict[str, float] = {}
    types: dict[str, str] = {}
    samples: list[Sample] = []
    for line in lines:
        if match := _TARGET.match(line):
            meta = dict(part.split("=", 1) for part in match["fields"].split())
        elif match := _MOVES.match(line):
            moves[match["name"]] = float(match["step"])
        elif match := _TYPE.match(line):
            types[match["name"]] = match["type"]
        elif line and not line.startswith("#"):
            match = _SAMPLE.match(line)
            if not match:
                raise ValueError(f"{path.name}: cannot parse {line!r}")
            samples.append(Sample(match["name"], parse_labels(match["labels"]), float(match["value"])))
    if "component" not in meta or "state" not in meta:
        raise ValueError(f"{path.name}: no '# target: component=... state=...' header")
    return Exposition(path, meta["component"], meta["state"], meta.get("mode"), moves, types, samples, lines)


def load_expositions(directory: Path = TARGETS_DIR) -> dict[str, Exposition]:
    return {path.stem: load_exposition(path) for path in sorted(directory.glob("*.prom"))}


def is_zero(value: float) -> bool:
    return not math.isnan(value) and value == 0
