"""The check of the per-alert overrides ``build_rule_groups`` and ``alert_thresholds`` take.

The program hands them overrides the configuration model has already checked, with the same rules
(``builders.values``) and ``threshold_expected``; this check is for callers that pass their own
values (tests, the promtool fixtures), so a bad one is named here instead of ending up in a rule.
"""

from __future__ import annotations

from collections.abc import Mapping

from alerts.catalog import ALERT_NAMES, ALERTS
from alerts.templates import SEVERITIES, AlertDefinition, number_text
from builders.values import is_duration_or_zero, is_threshold

SETTING_PREFIX = "calico-monitoring:alerts.overrides"

_ALERTS_BY_NAME: dict[str, AlertDefinition] = {a.name: a for a in ALERTS}


def threshold_expected(alert: AlertDefinition) -> str:
    """What ``alert``'s threshold accepts, and what it means (its threshold may be overridden)."""
    bound = "a number greater than 0"
    if alert.threshold_max is not None:
        bound += f" and at most {number_text(alert.threshold_max)}"
    return f"{bound} ({alert.threshold_meaning})"


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
        if not is_duration_or_zero(value):
            raise ValueError(
                f"{setting}: invalid value {value!r}; expected a Prometheus "
                "duration such as 30s, 5m, 1h30m or 1d (units ms, s, m, h, d, w, y)"
            )
    elif field == "severity":
        if value not in SEVERITIES:
            raise ValueError(f"{setting}: invalid value {value!r}; expected one of " + ", ".join(SEVERITIES))
    elif field == "threshold" and not is_threshold(value, alert.threshold_max):
        raise ValueError(f"{setting}: invalid value {value!r}; expected {threshold_expected(alert)}")
