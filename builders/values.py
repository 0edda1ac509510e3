"""Rules for single values the stack configures: Kubernetes names and labels, Prometheus durations, label names,
alert thresholds, hosts and URLs.

Plain predicates, imported by the configuration model and the rule builders (``alerts``) alike, so both accept
the same values; nothing here imports the rest of the project, so any module can use them without an import cycle.
"""

from __future__ import annotations

import ipaddress
import math
import re
from urllib.parse import SplitResult, urlsplit

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_PROMETHEUS_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Prometheus (and prometheus-operator's CRD) duration syntax, units in descending order; ASCII digits only
# (Prometheus refuses others, which \d would match).
_DURATION = re.compile(
    r"^(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?$"
)
_DURATION_UNITS_MS = (365 * 86400_000, 7 * 86400_000, 86400_000, 3600_000, 60_000, 1000, 1)
_HOST_LABEL = r"[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_HOST_LABEL}(\.{_HOST_LABEL})*$")
# What a runbook URL pattern may hold in braces: the alert name, or its anchor in docs/runbooks.md.
RUNBOOK_PLACEHOLDERS = ("{alert}", "{anchor}")


def duration_ms(text: str) -> int | None:
    """Milliseconds in a Prometheus duration, or None when it is not one."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match or not text:
        return None
    return sum(int(n) * unit for n, unit in zip(match.groups(), _DURATION_UNITS_MS, strict=True) if n)


def is_positive_duration(text: str) -> bool:
    return (duration_ms(text) or 0) > 0


def is_duration_or_zero(value: object) -> bool:
    """A Prometheus duration, or "0" (no wait), as an alert's ``for`` takes."""
    return isinstance(value, str) and (value == "0" or duration_ms(value) is not None)


def is_threshold(value: object, maximum: float | None = None) -> bool:
    """An alert threshold: a finite number greater than 0, and at most ``maximum`` when the alert has one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        return False
    return maximum is None or value <= maximum


def is_port_name(name: str) -> bool:
    """Kubernetes' IANA_SVC_NAME rule for container port names."""
    return (
        0 < len(name) <= 15
        and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) is not None
        and "--" not in name
        and re.search(r"[a-z]", name) is not None
    )


def is_dns1123_label(name: str) -> bool:
    return len(name) <= 63 and _DNS1123_LABEL.match(name) is not None


def is_dns1123_subdomain(name: str) -> bool:
    return len(name) <= 253 and _DNS1123_SUBDOMAIN.match(name) is not None


def is_label_key(key: str) -> bool:
    """A Kubernetes label (or annotation) name: an optional DNS subdomain prefix and a name."""
    prefix, _, name = key.rpartition("/")
    if prefix and not is_dns1123_subdomain(prefix):
        return False
    return len(name) <= 63 and _LABEL_NAME.match(name) is not None


def is_label_value(value: str) -> bool:
    """A Kubernetes label value."""
    return len(value) <= 63 and _LABEL_VALUE.match(value) is not None


def is_prometheus_label(name: str) -> bool:
    """A Prometheus label name, reserved (``__``-prefixed) ones included, as relabelings read them."""
    return _PROMETHEUS_LABEL.match(name) is not None


def is_label_name(value: object) -> bool:
    """A Prometheus label name a stack may give series (such as ``cluster``): not a reserved ``__`` one."""
    return isinstance(value, str) and is_prometheus_label(value) and not value.startswith("__")


def is_regex(text: str) -> bool:
    try:
        re.compile(text)
    except re.error:
        return False
    return True


def is_non_empty_path(text: str) -> bool:
    return bool(text) and "\0" not in text


def is_host(text: str) -> bool:
    """An IP address or a host name."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return _HOSTNAME.match(text) is not None


def http_url_parts(text: str) -> SplitResult | None:
    """The parts of an http:// or https:// URL with a host, a valid port if any and no user; else None."""
    parts = urlsplit(text)
    try:
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        return None
    if parts.scheme in ("http", "https") and parts.hostname and port_ok and not parts.username:
        return parts
    return None


def is_etcd_endpoint(text: str) -> bool:
    """One etcd client URL: http(s), no path, query or fragment."""
    if "," in text or any(c.isspace() for c in text):
        return False
    parts = http_url_parts(text)
    return parts is not None and parts.path in ("", "/") and not parts.query and not parts.fragment


def is_prometheus_url(text: str) -> bool:
    """A base URL of Prometheus' API: http(s), a path prefix allowed, no user, query or fragment."""
    return (
        http_url_parts(text) is not None
        and "?" not in text  # no query, not even an empty one
        and "#" not in text
        and not any(c.isspace() for c in text)
    )


def is_grafana_url(text: str) -> bool:
    """A base URL of Grafana as people open it: http(s), no user, query, fragment or whitespace (the alerts
    link it, and a link refuses whitespace)."""
    return (
        http_url_parts(text) is not None and "?" not in text and "#" not in text and not any(c.isspace() for c in text)
    )


def is_link_url(value: object) -> bool:
    """An http(s) URL with a host, no user and no whitespace, as the alerts write it into their links.

    Unlike ``http_url_parts`` its port is not checked: the rule builders take such a URL as they always have.
    """
    if not isinstance(value, str) or any(c.isspace() for c in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.username


def is_runbook_url_pattern(value: object) -> bool:
    """A link URL with ``{alert}`` (the alert name) or ``{anchor}`` (its runbook anchor), nothing else in braces."""
    if not is_link_url(value) or not any(p in value for p in RUNBOOK_PLACEHOLDERS):  # type: ignore[operator]
        return False
    rest = str(value)
    for placeholder in RUNBOOK_PLACEHOLDERS:
        rest = rest.replace(placeholder, "")
    return "{" not in rest and "}" not in rest


def is_page_url(text: str) -> bool:
    """Any http(s) URL with a host part, fragment allowed."""
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def is_runbook_base_url(text: str) -> bool:
    """A page the runbook anchors are appended to: ``<page>#<anchor>`` must be a runbook URL pattern."""
    return is_page_url(text) and is_runbook_url_pattern(text.split("#")[0] + "#{anchor}")
