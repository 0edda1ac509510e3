"""Values read back through the Pulumi SDK, as plain JSON-like data."""

from __future__ import annotations

import json
from typing import Any


def plain(value: Any) -> Any:
    """An SDK output object (a dict subclass) as plain data; numbers arrive as floats on the wire."""
    return _ints(json.loads(json.dumps(value))) if value is not None else None


def _ints(item: Any) -> Any:
    if isinstance(item, dict):
        return {key: _ints(value) for key, value in item.items()}
    if isinstance(item, list):
        return [_ints(value) for value in item]
    return int(item) if isinstance(item, float) and item.is_integer() else item


def camel_keys(value: Any) -> Any:
    """Keys as the Kubernetes API spells them: some nested keys of values read back through the
    SDK arrive in Python's snake_case. Only for objects none of whose keys is user data."""
    if isinstance(value, dict):
        return {_camel(key): camel_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [camel_keys(item) for item in value]
    return value


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)
