"""Writes package/args.py, the component's Args as TypedDicts, from the configuration model.

The component provider host reads Args from Python type annotations and their descriptions
from the docstrings under each field, so the Args are Python source generated here: every
config key of ``configuration.model`` with its meaning as the docstring, literals as Enums, the
datastore's two shapes as one object, secrets as inputs. ``python -m package.generate --write``
(run by `make docs`) rewrites the file; a test fails when it is out of date.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from configuration.connection import Secret
from configuration.docs import field_default
from configuration.model import PROVIDER_KEY, Settings
from configuration.section import Section

TARGET = Path(__file__).with_name("args.py")
# Config keys a program using the package does not give as Args, and why.
NOT_ARGS = {
    PROVIDER_KEY: "the Kubernetes provider comes through the resource options (`providers`)",
    "renderYamlTo": "render mode writes files on the machine that runs pulumi, with the component's own provider",
}
ARGS_CLASS = "CalicoMonitoringArgs"
DATASTORE_CLASS = "DatastoreSettings"


@dataclass(frozen=True)
class Node:
    """What one setting holds, as the Args express it."""

    kind: str  # str, int, float, bool, secret, enum, list, map, section
    item: Node | None = None  # list and map entries
    values: tuple[str, ...] = ()  # enum
    models: tuple[type[Section], ...] = ()  # section (two: the datastore)


def py_key(alias: str) -> str:
    """The Args key whose camelCase (as the host derives schema names) is ``alias``."""
    name = re.sub(r"(?<!^)([A-Z])", r"_\1", alias).lower()
    return f"{name}_" if keyword.iskeyword(name) else name


def node_of(annotation: Any) -> Node:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return node_of(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        parts = [arg for arg in get_args(annotation) if arg is not type(None)]
        if all(isinstance(part, type) and issubclass(part, Section) for part in parts):
            return Node("section", models=tuple(parts))
        if set(parts) == {float, int}:
            return Node("float")
        if len(parts) == 1:
            return node_of(parts[0])
        raise TypeError(f"no Args form for {annotation!r}")
    if origin is Literal:
        return Node("enum", values=tuple(get_args(annotation)))
    if origin is dict:
        return Node("map", item=node_of(get_args(annotation)[1]))
    if origin in (tuple, list):
        return Node("list", item=node_of(get_args(annotation)[0]))
    if annotation is Secret:
        return Node("secret")
    if isinstance(annotation, type) and issubclass(annotation, Section):
        return Node("section", models=(annotation,))
    if annotation in (str, int, float, bool):
        return Node(annotation.__name__)
    raise TypeError(f"no Args form for {annotation!r}")


def fields_of(models: tuple[type[Section], ...]) -> dict[str, tuple[type[Section], str]]:
    """Config key to (model, field name) over one model or the union of two (first one wins)."""
    found: dict[str, tuple[type[Section], str]] = {}
    for model in models:
        for alias, name in model.config_fields().items():
            found.setdefault(alias, (model, name))
    return found


def arg_keys(models: tuple[type[Section], ...]) -> dict[str, tuple[type[Section], str]]:
    keys = fields_of(models)
    return {alias: value for alias, value in keys.items() if not (models == (Settings,) and alias in NOT_ARGS)}


def class_name(models: tuple[type[Section], ...]) -> str:
    if models == (Settings,):
        return ARGS_CLASS
    return models[0].__name__ if len(models) == 1 else DATASTORE_CLASS


def enum_name(owner: str, alias: str) -> str:
    stem = owner.removesuffix("Settings").removesuffix("Args")
    return stem + alias[0].upper() + alias[1:]


def docstring(text: str) -> str:
    text = " ".join(text.split()).replace("\\", "\\\\").replace('"""', "'''")
    return f'"""{text}"""'


class Writer:
    def __init__(self) -> None:
        self.blocks: dict[str, str] = {}

    def annotation(self, node: Node, owner: str, alias: str) -> str:
        if node.kind in ("str", "int", "float", "bool"):
            return node.kind
        if node.kind == "secret":
            return "pulumi.Input[str]"
        if node.kind == "enum":
            name = enum_name(owner, alias)
            members = "\n".join(f'    {re.sub(r"[^A-Z0-9]", "_", str(v).upper())} = "{v}"' for v in node.values)
            self.blocks.setdefault(name, f"class {name}(StrEnum):\n{members}\n")
            return name
        if node.kind == "list":
            return f"list[{self.annotation(node.item, owner, alias)}]"
        if node.kind == "map":
            return f"dict[str, {self.annotation(node.item, owner, alias)}]"
        return self.section(node.models)

    def section(self, models: tuple[type[Section], ...]) -> str:
        name = class_name(models)
        if name in self.blocks:
            return name
        self.blocks[name] = ""  # reserved: nested sections come before it
        if models == (Settings,):
            summary = (
                "The settings of one CalicoMonitoring: the stack program's config keys, without the project prefix."
            )
        elif len(models) > 1:
            summary = "The Calico datastore calicoctl talks to; `type` says which of the keys apply: " + "; ".join(
                f"{model.model_fields['type'].default}: {model.summary}" for model in models
            )
        else:
            summary = models[0].summary or (models[0].__doc__ or name)
        lines = [f"class {name}(TypedDict):", f"    {docstring(summary)}", ""]
        for alias, (model, field_name) in arg_keys(models).items():
            field = model.model_fields[field_name]
            node = node_of(field.annotation)
            required = field.is_required() and len(models) == 1
            if len(models) > 1 and alias == "type":
                # The discriminator: the one key every shape has, and it decides which shape this is.
                node = Node("enum", values=tuple(model.model_fields["type"].default for model in models))
                required = True
            text = self.annotation(node, name, alias)
            lines.append(f"    {py_key(alias)}: {text if required else f'NotRequired[{text}]'}")
            lines.append(f"    {docstring(describe(model, alias, node))}")
        # Completed after the sections it names: blocks stay in an order Python can import.
        del self.blocks[name]
        self.blocks[name] = "\n".join(lines) + "\n"
        return name


def describe(model: type[Section], alias: str, node: Node) -> str:
    field = model.model_fields[model.config_fields()[alias]]
    meta = model.meta(alias)
    text = (field.description or meta.get("accepts") or alias).strip()
    if alias == "type" and node.kind == "enum" and len(node.values) > 1:
        return "Which datastore: " + " or ".join(f"`{value}`" for value in node.values) + "."
    if not text.endswith((".", ")")):
        text += "."
    if meta.get("shown_default"):
        text += f" Default: {meta['shown_default']}."
    elif node.kind in ("str", "int", "float", "bool", "enum"):
        default = field_default(model, alias)
        if default is not None and default is not ...:
            text += f" Default: {json.dumps(default)}."
    if node.kind == "secret":
        text += " Pass it as a secret."
    return text


def render() -> str:
    writer = Writer()
    writer.section((Settings,))
    enums = [block for block in writer.blocks.values() if "(StrEnum)" in block]
    dicts = [block for block in writer.blocks.values() if "(TypedDict)" in block]
    header = (
        '"""CalicoMonitoring\'s Args (generated from configuration/model.py by `python -m package.generate --write`;\n'
        'do not edit by hand)."""\n\n'
        "# ruff: noqa: E501\n\n"
        "from enum import StrEnum\n"
        "from typing import NotRequired, TypedDict\n\n"
        "import pulumi\n"
    )
    return header + "".join(f"\n\n{block}" for block in [*enums, *dicts])


def main(argv: list[str]) -> int:
    text = render()
    if argv == ["--write"]:
        TARGET.write_text(text)
        return 0
    if argv == ["--check"]:
        if TARGET.exists() and TARGET.read_text() == text:
            return 0
        print(f"{TARGET} is out of date: run `make docs`", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
