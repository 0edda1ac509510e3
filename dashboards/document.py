"""A Grafana dashboard as a plain JSON document: the error that names one, walking its panels and
template variables, copying it, and the canonical text it is stored and shipped as."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from json.encoder import encode_basestring
from typing import Any


class DashboardError(ValueError):
    """A dashboard file or object is unusable; the message names it and says why."""


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def template_variables(dashboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    templating = dashboard.get("templating")
    if not isinstance(templating, dict):
        return []
    return [v for v in as_list(templating.get("list")) if isinstance(v, dict)]


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel: top level, nested in collapsed rows, and in the old ``rows`` layout."""

    def walk(panels: Any) -> Iterator[dict[str, Any]]:
        for panel in as_list(panels):
            if isinstance(panel, dict):
                yield panel
                yield from walk(panel.get("panels"))

    yield from walk(dashboard.get("panels"))
    for row in as_list(dashboard.get("rows")):
        if isinstance(row, dict):
            yield from walk(row.get("panels"))


def describe(dashboard: Mapping[str, Any]) -> str:
    title = dashboard.get("title") if isinstance(dashboard, Mapping) else None
    uid = dashboard.get("uid") if isinstance(dashboard, Mapping) else None
    text = f"dashboard {title!r}" if title else "dashboard"
    return f"{text} (uid {uid})" if uid else text


def copy_dashboard(dashboard: dict) -> dict:
    """A deep copy; dashboards are plain JSON, and a JSON round trip copies them far faster than deepcopy."""
    try:
        return json.loads(json.dumps(dashboard))
    except (TypeError, ValueError) as err:
        raise DashboardError(f"{describe(dashboard)}: is not plain JSON: {err}") from None


def canonical_json(dashboard: dict) -> str:
    """Deterministic text for a dashboard: sorted keys, 2-space indent, UTF-8 kept, final newline.

    For every dashboard the same text as ``json.dumps(sort_keys=True, indent=2, ensure_ascii=False)``
    (tests/unit/dashboards/test_document.py checks it on the shipped dashboards and the fixtures),
    but not written by it:

    * with ``indent`` the standard library falls back to its pure-Python encoder, about 2.5 times
      slower than this, and this runs on every evaluation of the program (``make bench``);
    * what cannot be written stops the program with this module's words: an imported dashboard
      holding ``NaN`` (which ``json.loads`` accepts) is "out of range float value: nan", and a
      non-string key is refused where ``json.dumps`` would write ``1`` as ``"1"``.
    """
    parts: list[str] = []
    try:
        _write_indented(dashboard, "", parts.append)
    except (TypeError, ValueError) as err:
        raise DashboardError(f"{describe(dashboard)}: cannot be written as JSON: {err}") from None
    parts.append("\n")
    return "".join(parts)


def _write_indented(value: Any, indent: str, write: Callable[[str], Any]) -> None:
    if isinstance(value, str):
        write(encode_basestring(value))
    elif value is None or isinstance(value, bool):
        write("null" if value is None else "true" if value else "false")
    elif isinstance(value, int):
        write(int.__repr__(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"out of range float value: {value!r}")
        write(float.__repr__(value))
    elif isinstance(value, dict):
        if not value:
            write("{}")
            return
        inner = indent + "  "
        separator = "{\n" + inner
        for key in sorted(value):
            if not isinstance(key, str):
                raise TypeError(f"keys must be strings, got {key!r}")
            write(separator)
            write(encode_basestring(key))
            write(": ")
            _write_indented(value[key], inner, write)
            separator = ",\n" + inner
        write("\n" + indent + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            write("[]")
            return
        inner = indent + "  "
        separator = "[\n" + inner
        for item in value:
            write(separator)
            _write_indented(item, inner, write)
            separator = ",\n" + inner
        write("\n" + indent + "]")
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
