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
