"""Evaluate the real Pulumi program on Pulumi's mock engine and record what it registers.

No Pulumi CLI, provider plugin or cluster is involved: the mock monitor answers every
registration, and this recorder keeps the full request (inputs with their secret
markers, parent, dependencies, replacement options) for the tests to inspect.
"""

from __future__ import annotations

import datetime
import json
import re
import runpy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime.mocks import MockMonitor

ROOT = Path(__file__).resolve().parents[2]
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@dataclass(frozen=True)
class SecretInput:
    """An input value that reached the engine marked secret."""

    value: Any


def decode(value: Any) -> Any:
    """A wire value as plain Python, with secrets wrapped in SecretInput."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE:
            return SecretInput(decode(value.get("value")))
        return {k: decode(v) for k, v in value.items() if k != SECRET_SIG}
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire carries every number as a double
    return value


def replace_secrets(value: Any, replacement: Callable[[SecretInput], Any]) -> Any:
    """The same value with every SecretInput replaced by ``replacement(secret)``."""
    if isinstance(value, SecretInput):
        return replacement(value)
    if isinstance(value, dict):
        return {k: replace_secrets(v, replacement) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_secrets(v, replacement) for v in value]
    return value


def reveal(value: Any) -> Any:
    """The same value with every SecretInput unwrapped."""
    return replace_secrets(value, lambda secret: reveal(secret.value))


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    dependencies: list[str]
    provider: str
    delete_before_replace: bool
    replace_on_changes: list[str]
    aliases: list[str] = field(default_factory=list)  # URNs this resource had before (upgrades)
    deleted_with: str = ""  # the URN whose deletion makes this one's delete a no-op

    @property
    def plain_inputs(self) -> dict[str, Any]:
        return reveal(self.inputs)


@dataclass
class Evaluation:
    registrations: list[Registration] = field(default_factory=list)
    reads: list[tuple[str, str, str]] = field(default_factory=list)  # (type, name, id) of every `.get`
    # The URNs each read waits for, by its name: a preview reads an object only when none of them is being created.
    read_dependencies: dict[str, list[str]] = field(default_factory=dict)
    stack_outputs: dict[str, Any] = field(default_factory=dict)

    def by_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_token]

    def one(self, type_token: str) -> Registration:
        found = self.by_type(type_token)
        assert len(found) == 1, f"expected one {type_token}, found {[r.name for r in found]}"
        return found[0]

    def named(self, name: str) -> Registration:
        return next(r for r in self.registrations if r.name == name)

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.registrations if r.urn == urn)


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, outputs: Callable[[pulumi.runtime.MockResourceArgs], Mapping[str, Any]] | None) -> None:
        self.outputs = outputs

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        state = dict(args.inputs)
        if self.outputs is not None:
            state.update(self.outputs(args))
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}, None


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks, evaluation: Evaluation) -> None:
        super().__init__(mocks)
        self.evaluation = evaluation

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.evaluation.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    custom=request.custom,
                    inputs=decode(json_format.MessageToDict(request.object)),
                    dependencies=sorted(request.dependencies),
                    provider=request.provider,
                    delete_before_replace=request.deleteBeforeReplace,
                    replace_on_changes=list(request.replaceOnChanges),
                    aliases=sorted([*request.aliasURNs, *(alias.urn for alias in request.aliases if alias.urn)]),
                    deleted_with=request.deletedWith,
                )
            )
        return response

    def ReadResource(self, request):
        response = super().ReadResource(request)
        self.evaluation.reads.append((request.type, request.name, request.id))
        self.evaluation.read_dependencies[request.name] = sorted(request.dependencies)
        return response


SECRET_PLACEHOLDER = "[secret]"


@dataclass(frozen=True)
class StackConfig:
    values: dict[str, str]
    secret_keys: tuple[str, ...]


class StackFileLoader(yaml.SafeLoader):
    """YAML as the Pulumi CLI (v3.274.1, checked) hands a stack file's values to a program:
    only true/false are booleans (`yes`/`on` stay strings), a date becomes Go's time text
    ("2024-01-01 00:00:00 +0000 UTC") and `010` is octal 8. PyYAML alone reads YAML 1.1."""


def _go_time(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    value = loader.construct_yaml_timestamp(node)
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.UTC)
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


StackFileLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StackFileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
StackFileLoader.add_constructor("tag:yaml.org,2002:timestamp", _go_time)


def load_stack_file(stack: str, root: Path = ROOT) -> StackConfig:
    """Pulumi.<stack>.yaml's `config:` as the CLI hands it to a program (objects as JSON).

    Encrypted values cannot be decrypted without the stack's secrets provider, so each
    `secure:` value becomes the placeholder "[secret]" and its key is marked secret.
    """
    document = read_stack_file(stack, root)
    environments = esc_environments(document)
    if environments:
        raise StackEnvironmentError(stack, environments)
    check_against_project(stack, document.get("config") or {})
    secret_keys = []
    values = {}
    for key, value in (document.get("config") or {}).items():
        plain, had_secret = _strip_secure(value)
        values[key] = plain
        if had_secret:
            secret_keys.append(key)
    return StackConfig(config_strings(values), tuple(sorted(secret_keys)))


def read_stack_file(stack: str, root: Path = ROOT) -> dict[str, Any]:
    """Pulumi.<stack>.yaml as the CLI reads it."""
    path = root / f"Pulumi.{stack}.yaml"
    return yaml.load(path.read_text(encoding="utf-8"), Loader=StackFileLoader) or {}


@dataclass(frozen=True)
class EscEnvironments:
    """What a stack file's `environment:` takes configuration from: Pulumi ESC environments by name, and an
    environment defined in the stack file itself (the key holds a definition instead of a list)."""

    names: tuple[str, ...] = ()
    defined_inline: bool = False

    def __bool__(self) -> bool:
        return bool(self.names) or self.defined_inline

    def __str__(self) -> str:
        parts = []
        if self.names:
            plural = "s" if len(self.names) > 1 else ""
            parts.append(f"the Pulumi ESC environment{plural} {', '.join(self.names)}")
        if self.defined_inline:
            parts.append("a Pulumi ESC environment defined in the stack file")
        return " and ".join(parts)


def esc_environments(document: Mapping[str, Any]) -> EscEnvironments:
    """The Pulumi ESC environments a stack file takes configuration from (`environment:`)."""
    environment = document.get("environment")
    if not environment:
        return EscEnvironments()
    if isinstance(environment, str):
        return EscEnvironments((environment,))
    if isinstance(environment, Mapping):
        return EscEnvironments(tuple(str(name) for name in environment.get("imports") or []), defined_inline=True)
    return EscEnvironments(tuple(str(name) for name in environment))


class StackConfigError(pulumi.RunError):
    """The CLI would refuse this stack file before starting the program."""


class StackEnvironmentError(pulumi.RunError):
    """The stack takes configuration from Pulumi ESC, which only the Pulumi CLI can open (the CLI itself would
    run the program)."""

    def __init__(self, stack: str, environments: EscEnvironments) -> None:
        self.stack = stack
        self.environments = environments
        super().__init__(
            f"Stack '{stack}' takes configuration from {environments} (`environment:` in Pulumi.{stack}.yaml), "
            "which the offline evaluator cannot resolve: opening an environment takes the Pulumi CLI, a Pulumi "
            "Cloud login and the right to read it, and the evaluator opens nothing, so the settings the "
            "environment holds are unknown here"
        )


def check_against_project(stack: str, config: Mapping[str, Any], project_file: Path = ROOT / "Pulumi.yaml") -> None:
    """What the CLI (v3.274.1, pkg/workspace/config.go) checks before it starts the program: every project
    key without a default is set, and a value of a typed key has that type (for `object`, a map). It stops
    at the first problem, with its own wording, so the offline evaluator does too."""
    declared = (yaml.safe_load(project_file.read_text(encoding="utf-8")) or {}).get("config") or {}
    required = [key for key, d in declared.items() if "default" not in d and "value" not in d]
    missing = sorted(key for key in required if key not in config)
    if missing:
        quoted = [f"'{key}'" for key in missing]
        names = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
        raise StackConfigError(
            f"Stack '{stack}' is missing configuration {'value' if len(missing) == 1 else 'values'} {names}"
        )
    for key in sorted(declared):
        kind = declared[key].get("type")
        if kind is None or key not in config:
            continue
        value = config[key]
        if isinstance(value, dict) and set(value) == {"secure"}:
            continue  # its type is only known once decrypted
        if kind == "object":
            ok = isinstance(value, dict)
        elif kind == "string":
            ok = not isinstance(value, (dict, list))
        else:
            continue
        if not ok:
            raise StackConfigError(f"Stack '{stack}' with configuration key '{key}' must be of type '{kind}'")


def _strip_secure(value: Any) -> tuple[Any, bool]:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER, True
        pairs = {k: _strip_secure(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        pairs = [_strip_secure(v) for v in value]
        return [v for v, _ in pairs], any(s for _, s in pairs)
    return value, False


def stack_file_config(stack: str) -> dict[str, str]:
    return load_stack_file(stack).values


def config_strings(config: Mapping[str, Any]) -> dict[str, str]:
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}


def evaluate(
    config: Mapping[str, Any],
    secret_keys: Iterable[str] = (),
    *,
    preview: bool = False,
    outputs: Callable[[pulumi.runtime.MockResourceArgs], Mapping[str, Any]] | None = None,
    stack: str = "test",
    into: Evaluation | None = None,
    program: Callable[[], None] | None = None,
) -> Evaluation:
    """Run __main__.py (or ``program``) for one stack config on the mock engine.

    Registrations are recorded into ``into`` when given, so a caller can still see
    what was registered when the program raises.
    """
    evaluation = into if into is not None else Evaluation()
    mocks = RecordingMocks(outputs)
    pulumi.runtime.set_all_config(config_strings(config), list(secret_keys))
    pulumi.runtime.set_mocks(
        mocks,
        project="calico-monitoring",
        stack=stack,
        preview=preview,
        monitor=RecordingMonitor(mocks, evaluation),
    )

    exports: dict[str, Any] = {}

    @pulumi.runtime.test
    def run():
        # The mock root stack is finished before the program runs, so collect exports here.
        original_export = pulumi.export
        pulumi.export = lambda name, value: exports.__setitem__(name, value)
        try:
            if program is None:
                runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
            else:
                program()
        finally:
            pulumi.export = original_export
        return pulumi.Output.all(**exports).apply(evaluation.stack_outputs.update)

    run()
    return evaluation
