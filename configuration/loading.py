"""Reads this stack's configuration and turns it into Settings, or into one message listing every problem.

``parse_settings`` is pure: it takes the stack's raw config values (as Pulumi hands them to a program:
strings, with objects JSON-encoded) and validates them against the model (``configuration.model``).
Each problem is worded ``calico-monitoring:<path>: got <value>; expected <what is accepted>`` (or says
what is missing, unknown or in conflict); a value inside a key set with ``--secret`` is shown as
``[secret]``. Nothing here touches a cluster, so a bad stack fails before any resource is registered.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from pydantic import ValidationError

from configuration.connection import Secret
from configuration.model import PROVIDER_KEY, Settings
from configuration.problems import CONFIG_MODE, PROJECT, ConfigError

PREFIX = f"{PROJECT}:"
# The `kubernetes:*` keys the model reads (the provider has others; they are its business).
PROVIDER_KEYS = ("kubeconfig", "context")


def show(value: Any) -> str:
    """How a bad value is quoted in an error message."""
    if isinstance(value, Secret):
        return "[secret]"
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return json.dumps(repr(value), ensure_ascii=False)


def config_path(loc: tuple) -> str:
    """`calico-monitoring:podMonitor.labels.release`, `...datastore.endpoints[0]`, `kubernetes:context`."""
    if not loc:
        return PREFIX
    if loc[0] == PROVIDER_KEY:
        return "kubernetes:" + ".".join(str(part) for part in loc[1:])
    text = PREFIX + str(loc[0])
    for part in loc[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def describe(error: Mapping[str, Any], secret_roots: Collection[str]) -> str:
    """One problem, worded for the person who wrote the stack file."""
    loc = tuple(error["loc"])
    path = config_path(loc)
    ctx = error.get("ctx") or {}
    secret = bool(loc) and loc[0] in secret_roots
    shown = "[secret]" if secret else show(error.get("input"))
    kind = error["type"]
    if kind == "calico_value":
        return f"{path}: got {shown}; expected {ctx['expected']}"
    if kind == "calico_note":
        return f"{path}{ctx['note']}" if not loc else f"{path}: {ctx['note']}"
    if kind == "calico_secret":
        return f"{path}: expected a non-empty string (value not shown: it is secret)"
    if kind == "calico_unknown":
        top = len(loc) == 1
        names = [PREFIX + name if top else name for name in ctx["accepted"]]
        closest = ctx.get("closest")
        if closest is not None and top:
            closest = PREFIX + closest
        hint = f" (did you mean {closest}?)" if closest else ""
        if ctx.get("what") == "alert":
            return f"{path}: unknown alert{hint}; known alerts are {', '.join(names)}"
        return f"{path}: unknown setting{hint}; accepted settings are {', '.join(names)}"
    return f"{path}: got {shown}; {error.get('msg', kind)}"


def parse_settings(values: Mapping[str, Any], secret_keys: Collection[str] = ()) -> Settings:
    """Build Settings from raw stack config, or raise ConfigError listing every problem.

    ``values`` maps full config keys (``calico-monitoring:datastore``,
    ``kubernetes:context``) to what Pulumi hands the program: plain strings, with
    object values JSON-encoded. Already-decoded objects are accepted too.
    ``secret_keys`` names the keys that were set with ``--secret``.
    """
    problems: list[str] = []
    objects = Settings.sections()
    data: dict[str, Any] = {}
    secret_roots = set()
    unreadable = set()
    for key, raw in values.items():
        if not key.startswith(PREFIX):
            continue
        name = key[len(PREFIX) :]
        secret = key in secret_keys
        if secret:
            secret_roots.add(name)
        if name in objects:
            if isinstance(raw, str):
                try:
                    raw = json.loads(raw)
                except json.JSONDecodeError:
                    problems.append(
                        f"{key}: expected an object (set it with `pulumi config set --path {key}.<field> <value>`)"
                        + ("" if secret else f"; got {show(raw)}")
                    )
                    unreadable.add(name)
                    continue
            if raw is None:
                continue
            if not isinstance(raw, Mapping):
                problems.append(f"{key}: expected an object; got {'[secret]' if secret else show(raw)}")
                unreadable.add(name)
                continue
        data[name] = raw
    data[PROVIDER_KEY] = {
        name: values[f"kubernetes:{name}"] for name in PROVIDER_KEYS if f"kubernetes:{name}" in values
    }
    try:
        settings = Settings.model_validate(
            data, context={CONFIG_MODE: {"secret": frozenset(secret_roots)}}, by_alias=True, by_name=False
        )
    except ValidationError as error:
        for problem in error.errors():
            if problem["type"] == "calico_note" and tuple(problem["loc"])[:1] and problem["loc"][0] in unreadable:
                continue  # what follows from a key that could not be read was said already
            problems.append(describe(problem, secret_roots))
        settings = None
    if problems:
        raise ConfigError("invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems))
    return settings


def load_settings() -> Settings:
    """Read and validate this stack's configuration; a bad stack stops the program here."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env() or {})
    values = {key: runtime_config.get_config(key) for key in sorted(keys)}
    secret_keys = {key for key in keys if runtime_config.is_config_secret(key)}
    try:
        return parse_settings(values, secret_keys)
    except ConfigError as error:
        raise pulumi.RunError(str(error)) from None
