"""Pulumi.yaml's `config:` block and the README's configuration tables, generated from the model.

    python -m configuration.docs           # exit 1, naming the files that differ from what the model gives
    python -m configuration.docs --write   # rewrite them (make docs)

The README keeps its prose; each table sits between ``<!-- config-table: <name> -->`` and
``<!-- end config-table -->`` and is replaced whole.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

from configuration.connection import EtcdDatastore, KubernetesDatastore
from configuration.model import Settings
from configuration.monitors import KubeControllersSettings, MonitorSettings, TyphaSettings
from configuration.problems import PROJECT
from configuration.section import Section

ROOT = Path(__file__).resolve().parent.parent
TABLE = re.compile(r"(<!-- config-table: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end config-table -->)", re.DOTALL)


def _plain(text: str) -> str:
    return text.replace("`", "")


def field_default(model: type[Section], alias: str) -> Any:
    """A setting's default (``...`` when it is required)."""
    field = model.model_fields[model.config_fields()[alias]]
    return field.get_default(call_default_factory=True) if not field.is_required() else ...


def _compact(value: Any) -> str:
    """A default as Pulumi.yaml's one-line summaries show it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple) and value and all(isinstance(p, tuple) for p in value):
        return "{" + ", ".join(f"{k}: '{v}'" for k, v in value) + "}"
    if isinstance(value, (tuple, list)):
        return "[]" if not value else "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, dict):
        return "{}"
    return str(value)


def field_summary(model: type[Section], skip: tuple[str, ...] = ()) -> str:
    """`{metricsPort: 9091, metricsHost?, ...}`: each key with its default, `?` where it is unset."""
    parts = []
    for alias in model.config_fields():
        if alias in skip:
            continue
        meta = model.meta(alias)
        default = field_default(model, alias)
        if meta.get("shown_default") == "unset" or (default is None and not meta.get("shown_default")):
            parts.append(f"{alias}?")
        elif default is ...:
            parts.append(alias)
        elif meta.get("shown_default"):
            parts.append(f"{alias}: {_plain(meta['shown_default'])}")
        else:
            parts.append(f"{alias}: {_compact(default)}")
    return "{" + ", ".join(parts) + "}"


def project_config() -> dict[str, dict[str, Any]]:
    """Pulumi.yaml's `config:` block: every key, its type, what it holds and its default."""
    config: dict[str, dict[str, Any]] = {}
    sections = Settings.sections()
    for alias in Settings.listed_keys_in_order():
        key = f"{PROJECT}:{alias}"
        if alias == "datastore":
            config[key] = {
                "type": "object",
                "description": "Required. The Calico datastore calicoctl talks to: "
                + field_summary(KubernetesDatastore)
                + " or "
                + field_summary(EtcdDatastore)
                + "; key, cert, caCert and password set with --secret.",
            }
        elif alias in sections:
            (model,) = sections[alias]
            config[key] = {
                "type": "object",
                "description": f"Optional. {model.summary}. {field_summary(model)}",
                "default": {},
            }
        else:
            meta = Settings.meta(alias)
            default = field_default(Settings, alias)
            config[key] = {
                "type": "string",
                "description": _plain(meta["meaning"]),
                "default": "" if default is None else default,
            }
    return config


def pulumi_yaml(current: str) -> str:
    """Pulumi.yaml with its `config:` block replaced by the generated one."""
    head = current.split("\nconfig:\n", 1)[0]
    block = yaml.safe_dump({"config": project_config()}, sort_keys=False, width=1000, allow_unicode=True)
    return head.rstrip("\n") + "\n" + block


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _shown(model: type[Section], alias: str) -> str:
    meta = model.meta(alias)
    if meta.get("shown_default"):
        return meta["shown_default"]
    default = field_default(model, alias)
    if default is ...:
        return "required"
    if default is None:
        return "unset"
    return f"`{_compact(default)}`"


def _rows(model: type[Section], skip: tuple[str, ...] = ()) -> list[str]:
    rows = []
    for alias in model.config_fields():
        if alias in skip:
            continue
        meta = model.meta(alias)
        meaning = meta.get("meaning") or ""
        rows.append(f"| `{alias}` | {_cell(_shown(model, alias))} | {_cell(meaning)} | {_cell(meta['accepts'])} |")
    return rows


_HEADER = ["| field | default | meaning | accepts |", "| --- | --- | --- | --- |"]


def tables() -> dict[str, str]:
    """Each README table by name."""
    found = {}
    for alias, (model, *_) in Settings.sections().items():
        if alias in ("datastore", "typha", "kubeControllers"):
            continue
        found[alias] = "\n".join([*_HEADER, *_rows(model)])
    found["monitor"] = "\n".join([*_HEADER, *_rows(MonitorSettings)])
    found["datastore-kubernetes"] = "\n".join([*_HEADER, *_rows(KubernetesDatastore, skip=("type",))])
    found["datastore-etcdv3"] = "\n".join([*_HEADER, *_rows(EtcdDatastore, skip=("type",))])
    workload = [
        "| field | typha default | kubeControllers default | meaning | accepts |",
        "| --- | --- | --- | --- | --- |",
    ]
    for alias in TyphaSettings.config_fields():
        meta = TyphaSettings.meta(alias)
        workload.append(
            f"| `{alias}` | {_cell(_shown(TyphaSettings, alias))} | {_cell(_shown(KubeControllersSettings, alias))} "
            f"| {_cell(meta.get('meaning') or '')} | {_cell(meta['accepts'])} |"
        )
    found["workloads"] = "\n".join(workload)
    return found


def readme(current: str) -> str:
    """The README with every marked table regenerated; an unknown table name is an error."""
    generated = tables()

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in generated:
            raise KeyError(f"README.md: no generated table named {name!r}; known: {', '.join(sorted(generated))}")
        return f"{match.group(1)}{generated[name]}\n{match.group(4)}"

    return TABLE.sub(replace, current)


def outdated(root: Path = ROOT) -> dict[Path, str]:
    """The files whose generated parts differ from what the model gives, with their fresh text."""
    fresh = {}
    for name, build in (("Pulumi.yaml", pulumi_yaml), ("README.md", readme)):
        path = root / name
        current = path.read_text(encoding="utf-8")
        text = build(current)
        if text != current:
            fresh[path] = text
    return fresh


def main_in(root: Path, argv: list[str]) -> int:
    fresh = outdated(root)
    if "--write" in argv:
        for path, text in fresh.items():
            path.write_text(text, encoding="utf-8")
            print(f"rewrote {path.name}")
        return 0
    for path in fresh:
        print(f"{path.name} differs from the configuration model; run `make docs`", file=sys.stderr)
    return 1 if fresh else 0


def main(argv: list[str]) -> int:
    return main_in(ROOT, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
