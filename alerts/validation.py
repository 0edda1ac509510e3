"""Checks of the alert settings a stack gives: overrides, label names and URLs.

``build_rule_groups`` runs them on its arguments; the configuration model uses
``is_label_name`` and ``is_runbook_url_pattern`` for the same settings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from alerts.catalog import ALERT_NAMES, ALERTS
from alerts.links import RUNBOOK_PLACEHOLDERS
from alerts.templates import SEVERITIES, AlertDefinition, number_text

SETTING_PREFIX = "calico-monitoring:alerts.overrides"

_ALERTS_BY_NAME: dict[str, AlertDefinition] = {a.name: a for a in ALERTS}

# A Prometheus duration such as 30s, 5m, 1h30m or 1d; "0" means no wait.
_DURATION_RE = re.compile(
    r"^(?:0|(?:[0-9]+y)?(?:[0-9]+w)?(?:[0-9]+d)?(?:[0-9]+h)?(?:[0-9]+m)?"
    r"(?:[0-9]+s)?(?:[0-9]+ms)?)$"
)


_LABEL_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_label_name(value: object) -> bool:
    """A Prometheus label name that is not reserved (``__`` prefix)."""
    return isinstance(value, str) and bool(_LABEL_NAME_RE.match(value)) and not value.startswith("__")


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
                bound += f" and at most {number_text(alert.threshold_max)}"
            raise ValueError(f"{setting}: invalid value {value!r}; expected {bound} ({alert.threshold_meaning})")


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str) or any(ch.isspace() for ch in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.username


def is_runbook_url_pattern(value: object) -> bool:
    """An http(s) URL with ``{alert}`` (the alert name) or ``{anchor}`` (its lower-case runbook anchor)."""
    if not _is_http_url(value) or not any(p in value for p in RUNBOOK_PLACEHOLDERS):  # type: ignore[operator]
        return False
    rest = str(value)
    for placeholder in RUNBOOK_PLACEHOLDERS:
        rest = rest.replace(placeholder, "")
    return "{" not in rest and "}" not in rest
