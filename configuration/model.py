"""The stack configuration as one typed model: every key, its default, what it accepts and what it means.

Each section is a frozen pydantic model the rest of the program reads (``settings.pod_monitor.interval``).
Config keys are the camelCase aliases (``podMonitor.scrapeTimeout``). Validating stack values
(``configuration.loading.parse_settings``) runs in "config mode": only aliases are accepted, and every
problem comes back as one pydantic error whose type says how it is worded (``PROBLEM_TYPES``), located
at its exact path, so the whole list can be reported at once. Built in code (``PodMonitorSettings()``),
the models take field names and use the same defaults. Pulumi.yaml's `config:` block and the README's
tables are generated from the metadata here (``configuration.docs``).
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Annotated, Any, ClassVar, Literal, get_args, get_origin
from urllib.parse import SplitResult, urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError

from alerts import ALERT_ANNOTATIONS, ALERTS, SEVERITIES, is_label_name, is_runbook_url_pattern

PROJECT = "calico-monitoring"
# The key under which the stack's `kubernetes:*` values reach the model; no project key can be spelt so.
PROVIDER_KEY = "kubernetes:"
# Marks a validation of stack values (aliases only, problems worded for people) in the pydantic context.
CONFIG_MODE = "calico-monitoring-config"


class ConfigError(ValueError):
    """A stack setting is missing or wrong; the message lists every problem."""


class Secret:
    """A configuration value that must only ever reach Pulumi as a secret.

    Its repr never shows the value, so it cannot leak through a log line or an
    error message by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret([secret])"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# --- value rules -------------------------------------------------------------

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# Prometheus (and prometheus-operator's CRD) duration syntax, units in descending order.
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_DURATION_UNITS_MS = (365 * 86400_000, 7 * 86400_000, 86400_000, 3600_000, 60_000, 1000, 1)
_HOST_LABEL = r"[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_HOST_LABEL}(\.{_HOST_LABEL})*$")

DURATION_HINT = "a Prometheus duration such as 15s, 1m or 1m30s"
_PORT_NAME_HINT = "a port name: at most 15 lowercase letters, digits and single hyphens, with a letter"
_OBJECT_NAME_HINT = "a Kubernetes object name"
_CONTAINER_HINT = "a Kubernetes container name"
_NAMESPACE_HINT = "a Kubernetes namespace name"
_LABELS_HINT = "a map of Kubernetes label names to string values"
_LABEL_KEY_HINT = "a Kubernetes label name such as release or app.kubernetes.io/part-of"
_LABEL_VALUE_HINT = "a label value: at most 63 letters, digits, '-', '_' or '.'"


def duration_ms(text: str) -> int | None:
    """Milliseconds in a Prometheus duration, or None when it is not one."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match or not text:
        return None
    return sum(int(n) * unit for n, unit in zip(match.groups(), _DURATION_UNITS_MS, strict=True) if n)


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
    prefix, _, name = key.rpartition("/")
    if prefix and not is_dns1123_subdomain(prefix):
        return False
    return len(name) <= 63 and _LABEL_NAME.match(name) is not None


def is_label_value(value: str) -> bool:
    return len(value) <= 63 and _LABEL_VALUE.match(value) is not None


def _non_empty_path(value: str) -> bool:
    return bool(value) and "\0" not in value


def _is_host(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return _HOSTNAME.match(value) is not None


def _http_url(value: str) -> SplitResult | None:
    """The parts of an http:// or https:// URL with a host, a valid port if any and no user; else None."""
    parts = urlsplit(value)
    try:
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        return None
    if parts.scheme in ("http", "https") and parts.hostname and port_ok and not parts.username:
        return parts
    return None


def _is_etcd_endpoint(value: str) -> bool:
    if "," in value or any(c.isspace() for c in value):
        return False
    parts = _http_url(value)
    return parts is not None and parts.path in ("", "/") and not parts.query and not parts.fragment


def _is_prometheus_url(value: str) -> bool:
    return (
        _http_url(value) is not None
        and "?" not in value  # no query, not even an empty one
        and "#" not in value
        and not any(c.isspace() for c in value)
    )


def _is_grafana_url(value: str) -> bool:
    return _http_url(value) is not None and "?" not in value and "#" not in value


def _is_page_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def looks_like_kubeconfig_content(value: str) -> bool:
    """`kubernetes:kubeconfig` may hold a path or the kubeconfig document itself."""
    stripped = value.lstrip()
    return "\n" in value.strip() or stripped.startswith(("{", "apiVersion:", "kind:", "clusters:"))


def _positive_duration(value: str) -> bool:
    return (duration_ms(value) or 0) > 0


def _checked(rule: Callable[[Any], bool]) -> AfterValidator:
    """A value that passes its type but not ``rule`` fails; the field's `accepts` text says why."""

    def check(value: Any) -> Any:
        if value is not None and not rule(value):  # None: an optional setting left unset
            raise ValueError("not accepted")
        return value

    return AfterValidator(check)


def _label_text(value: Any) -> Any:
    # `pulumi config set --path …labels.x 1` stores a number (and true a boolean): the user meant text.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return value


def _sorted_pairs(value: Any) -> Any:
    return tuple(sorted(value.items())) if isinstance(value, Mapping) else tuple(value)


def _secret_text(value: Any) -> Any:
    if isinstance(value, Secret):
        return value
    if isinstance(value, str) and value.strip():
        return Secret(value)
    raise PydanticCustomError("calico_secret", "a non-empty string (value not shown: it is secret)")


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _as_dict(value: Any) -> Any:
    return dict(value) if isinstance(value, tuple) else value


LabelKey = Annotated[str, _checked(is_label_key)]
LabelValue = Annotated[str, BeforeValidator(_label_text), _checked(is_label_value)]
# Given as a map, kept as sorted (name, value) pairs so settings compare and render deterministically.
Labels = Annotated[dict[LabelKey, LabelValue], BeforeValidator(_as_dict), AfterValidator(_sorted_pairs)]
SecretText = Annotated[Secret, BeforeValidator(_secret_text)]


def setting(
    default: Any = ...,
    *,
    accepts: str,
    meaning: str = "",
    shown_default: str | None = None,
    item: str | None = None,
    key: str | None = None,
    required: str | None = None,
    alias: str | None = None,
    internal: bool = False,
    default_factory: Callable[[], Any] | None = None,
) -> Any:
    """A config field: ``accepts`` ends every "got …; expected …" message about it (``item`` and ``key``
    for the entries and keys of a list or map), ``meaning`` and ``shown_default`` go into the docs,
    ``required`` is why a missing required field is needed, ``internal`` fields are not config keys."""
    extra = {
        "accepts": accepts,
        "meaning": meaning,
        "shown_default": shown_default,
        "item": item,
        "key": key,
        "required": required,
        "internal": internal,
    }
    kwargs: dict[str, Any] = {"json_schema_extra": extra, "description": meaning or None}
    if alias is not None:
        kwargs["alias"] = alias
    if default_factory is not None:
        return Field(default_factory=default_factory, **kwargs)
    return Field(default, **kwargs)


# --- how problems are recorded -----------------------------------------------

# Custom error types and the text pydantic keeps as their message; configuration.loading words them.
PROBLEM_TYPES = {
    "calico_value": "expected {expected}",  # "<path>: got <value>; expected <expected>"
    "calico_note": "{note}",  # "<path>: <note>"
    "calico_secret": "a non-empty string (value not shown: it is secret)",
    "calico_unknown": "unknown setting",  # with the accepted names and the closest one
}


def value_problem(loc: tuple, value: Any, expected: str) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError("calico_value", PROBLEM_TYPES["calico_value"], {"expected": expected}),
        loc=loc,
        input=value,
    )


def note_problem(loc: tuple, note: str) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError("calico_note", PROBLEM_TYPES["calico_note"], {"note": note}), loc=loc, input=None
    )


def unknown_problem(loc: tuple, name: str, accepted: list[str], what: str = "setting") -> InitErrorDetails:
    closest = difflib.get_close_matches(name, accepted, n=1, cutoff=0.75) if isinstance(name, str) else []
    return InitErrorDetails(
        type=PydanticCustomError(
            "calico_unknown",
            PROBLEM_TYPES["calico_unknown"],
            {"accepted": accepted, "closest": closest[0] if closest else None, "what": what},
        ),
        loc=loc,
        input=name,
    )


def _carry(error: Mapping[str, Any], loc: tuple | None = None) -> InitErrorDetails:
    """One error of an inner validation, raised again from an outer one (with ``loc`` rewritten)."""
    loc = tuple(error["loc"]) if loc is None else loc
    kind = error["type"]
    if kind in PROBLEM_TYPES:
        kind = PydanticCustomError(kind, PROBLEM_TYPES[kind], error.get("ctx") or {})
    details = InitErrorDetails(type=kind, loc=loc, input=error.get("input"))
    if error.get("ctx") and not isinstance(kind, PydanticCustomError):
        details["ctx"] = error["ctx"]
    return details


def in_config_mode(info: ValidationInfo | None) -> bool:
    return info is not None and isinstance(info.context, Mapping) and CONFIG_MODE in info.context


class Section(BaseModel):
    """A frozen settings object; in config mode it reports each problem at its path, all at once."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        arbitrary_types_allowed=True,
    )
    # The section's one-line description for Pulumi.yaml and the README.
    summary: ClassVar[str] = ""

    @classmethod
    def config_fields(cls) -> dict[str, str]:
        """Config key (alias) to field name, in declaration order, internal fields left out."""
        return {
            field.alias or name: name
            for name, field in cls.model_fields.items()
            if not (field.json_schema_extra or {}).get("internal")
        }

    @classmethod
    def listed_keys(cls) -> list[str]:
        return sorted(cls.config_fields())

    @classmethod
    def meta(cls, alias: str) -> dict[str, Any]:
        return dict(cls.model_fields[cls.config_fields()[alias]].json_schema_extra or {})

    @classmethod
    def prepare(cls, data: dict[str, Any], info: ValidationInfo) -> tuple[dict[str, Any], list[InitErrorDetails]]:
        """Turns the section's raw value into what its fields validate; problems found on the way."""
        return data, []

    @classmethod
    def checks(cls, data: dict[str, Any], info: ValidationInfo) -> list[InitErrorDetails]:
        """Problems that involve more than one field; run whether or not the fields themselves are valid."""
        return []

    @classmethod
    def resolve(cls, result: Section, data: dict[str, Any], info: ValidationInfo) -> Section:
        """The valid settings, with defaults that depend on other settings filled in."""
        return result

    @classmethod
    def valid(cls, data: Mapping[str, Any], alias: str, info: ValidationInfo | None = None) -> Any:
        """The value of one field as it validates on its own, or None when it is absent or invalid."""
        if not isinstance(data, Mapping) or alias not in data:
            return None
        try:
            return _field_adapter(cls, cls.config_fields()[alias]).validate_python(
                data[alias], context=info.context if info is not None else None
            )
        except ValidationError:
            return None

    @classmethod
    def value_or_default(cls, data: Mapping[str, Any], alias: str, info: ValidationInfo | None = None) -> Any:
        if isinstance(data, Mapping) and alias in data:
            return cls.valid(data, alias, info)
        field = cls.model_fields[cls.config_fields()[alias]]
        return field.get_default(call_default_factory=True)

    @classmethod
    def explain(cls, error: Mapping[str, Any]) -> InitErrorDetails:
        """A pydantic error of one of this section's own fields, worded with the field's `accepts` text."""
        loc = tuple(error["loc"])
        if error["type"] in PROBLEM_TYPES or not loc or loc[0] not in cls.config_fields():
            return _carry(error)
        meta = cls.meta(loc[0])
        if error["type"] == "missing" and len(loc) == 1:
            if meta.get("required"):
                return note_problem(loc, f"missing; it is required ({meta['required']})")
            return value_problem(loc, None, meta["accepts"])
        if len(loc) > 1 and loc[-1] == "[key]":
            return value_problem(loc[:-1], error.get("input"), meta.get("key") or meta["accepts"])
        if len(loc) > 1:
            return value_problem(loc, error.get("input"), meta.get("item") or meta["accepts"])
        return value_problem(loc, error.get("input"), meta["accepts"])

    @model_validator(mode="wrap")
    @classmethod
    def _validate_config(cls, data: Any, handler: Callable[[Any], Any], info: ValidationInfo) -> Any:
        if not in_config_mode(info) or not isinstance(data, Mapping):
            return handler(data)
        accepted = cls.config_fields()
        raw = data
        unknown = [unknown_problem((name,), name, cls.listed_keys()) for name in data if name not in accepted]
        data, found = cls.prepare({name: value for name, value in data.items() if name in accepted}, info)
        problems = []
        result = None
        try:
            result = handler(data)
        except ValidationError as error:
            problems = [cls.explain(e) for e in error.errors()]
        problems += found + unknown + cls.checks(data, info)
        if problems:
            order = list(accepted)
            problems.sort(key=lambda problem: _reading_order(problem["loc"], order, raw))
            raise ValidationError.from_exception_data(cls.__name__, problems)
        return cls.resolve(result, data, info)


def _reading_order(loc: tuple, fields: list[str], raw: Mapping[str, Any]) -> tuple[int, ...]:
    """Problems in the order of the section's fields, then of the entries as the stack lists them."""
    if not loc:
        return (len(fields) + 1,)
    key = [fields.index(loc[0]) if loc[0] in fields else len(fields)]
    node: Any = raw.get(loc[0])
    for part in loc[1:]:
        if isinstance(node, Mapping) and part in node:
            key.append(list(node).index(part))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            key.append(part)
            node = node[part]
        else:
            key.append(1 << 30)
            break
    return tuple(key)


@cache
def _field_adapter(cls: type[Section], name: str) -> TypeAdapter:
    field = cls.model_fields[name]
    annotation = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
    return TypeAdapter(annotation, config=ConfigDict(strict=True, arbitrary_types_allowed=True))


def _secret_roots(info: ValidationInfo | None) -> frozenset[str]:
    if not in_config_mode(info):
        return frozenset()
    return frozenset(info.context[CONFIG_MODE].get("secret", ()))


# --- the sections ------------------------------------------------------------

_KUBECONFIG_HINT = "a kubeconfig file path or the kubeconfig text itself"


def _kubeconfig_source(value: Any) -> Any:
    if isinstance(value, (Secret, type(None))):
        return value
    if not isinstance(value, str) or not _non_empty_path(value):
        raise PydanticCustomError("calico_note", PROBLEM_TYPES["calico_note"], {"note": f"expected {_KUBECONFIG_HINT}"})
    return Secret(value) if looks_like_kubeconfig_content(value) else value


class KubernetesProviderSettings(Section):
    """The stack's `kubernetes:*` keys, handed to the one explicit provider."""

    # A path stays text; the kubeconfig document itself is kept as a Secret.
    kubeconfig: Annotated[str | Secret | None, BeforeValidator(_kubeconfig_source)] = setting(
        None,
        accepts=_KUBECONFIG_HINT,
        meaning="the kubeconfig of the Kubernetes provider: a path, or the kubeconfig text (then set it with --secret)",
    )
    context: Annotated[str | None, _checked(bool)] = setting(
        None, accepts="the name of a kubeconfig context", meaning="the kubeconfig context the provider uses"
    )

    def __init__(
        self,
        kubeconfig_path: str | None = None,
        kubeconfig_content: Secret | None = None,
        context: str | None = None,
        **data: Any,
    ) -> None:
        if kubeconfig_path is not None or kubeconfig_content is not None:
            data.setdefault("kubeconfig", kubeconfig_path if kubeconfig_path is not None else kubeconfig_content)
        super().__init__(context=context, **data)

    @property
    def kubeconfig_path(self) -> str | None:
        return self.kubeconfig if isinstance(self.kubeconfig, str) else None

    @property
    def kubeconfig_content(self) -> Secret | None:
        return self.kubeconfig if isinstance(self.kubeconfig, Secret) else None


def _current_context_of(content: Secret) -> str | None:
    try:
        document = yaml.safe_load(content.reveal())
    except yaml.YAMLError:
        return None
    if isinstance(document, Mapping) and isinstance(document.get("current-context"), str):
        return document["current-context"] or None
    return None


def calicoctl_kubeconfig(
    own_path: str | None, own_context: str | None, provider: KubernetesProviderSettings
) -> tuple[str | None, Secret | None, str | None]:
    """The kubeconfig path, text and context calicoctl uses: its own path needs its own context
    (or the provider's, for the same file); otherwise the provider's, pinned to its current-context."""
    if own_path is not None:
        return own_path, None, own_context or (provider.context if own_path == provider.kubeconfig_path else None)
    context = own_context or provider.context
    content = provider.kubeconfig_content
    if context is None and content is not None:
        context = _current_context_of(content)
    return provider.kubeconfig_path, content, context


class KubernetesDatastore(Section):
    """calicoctl talks to the Kubernetes API (Calico's "kubernetes" datastore)."""

    summary: ClassVar[str] = "calicoctl uses the Kubernetes API, with the same kubeconfig and context as the provider"

    type: Literal["kubernetes"] = setting("kubernetes", accepts='"kubernetes" or "etcdv3"', meaning="`kubernetes`")
    kubeconfig_path: Annotated[str | None, _checked(_non_empty_path)] = setting(
        None,
        alias="kubeconfig",
        accepts="a kubeconfig file path",
        meaning="kubeconfig path for calicoctl only; needs `context`",
        shown_default="the provider's",
    )
    context: Annotated[str | None, _checked(bool)] = setting(
        None,
        accepts="the name of a kubeconfig context",
        meaning="kubeconfig context for calicoctl",
        shown_default="`kubernetes:context`",
    )
    kubeconfig_content: Secret | None = setting(None, accepts="", internal=True)


_ENDPOINTS_HINT = "a non-empty list of http:// or https:// URLs such as https://10.0.0.1:2379"
_FILE_HINT = "a file path"
_SECRET_HINT = "a non-empty string, stored encrypted (`--secret`)"
_SECRET_FIELD_MEANING = "inline PEM, set with `pulumi config set --secret --path calico-monitoring:datastore.{} < {}`"


class EtcdDatastore(Section):
    """calicoctl talks to etcd v3 directly."""

    summary: ClassVar[str] = "calicoctl talks to etcd v3 directly"

    type: Literal["etcdv3"] = setting("etcdv3", accepts='"kubernetes" or "etcdv3"', meaning="`etcdv3`")
    endpoints: Annotated[
        tuple[Annotated[str, _checked(_is_etcd_endpoint)], ...], BeforeValidator(_as_tuple), Field(min_length=1)
    ] = setting(
        accepts=_ENDPOINTS_HINT,
        meaning="non-empty list of `http://` or `https://` URLs",
    )
    key_file: Annotated[str | None, _checked(_non_empty_path)] = setting(
        None, accepts=_FILE_HINT, meaning="client key file on the machine that runs Pulumi (as in the tutorial)"
    )
    cert_file: Annotated[str | None, _checked(_non_empty_path)] = setting(
        None, accepts=_FILE_HINT, meaning="client certificate file"
    )
    ca_cert_file: Annotated[str | None, _checked(_non_empty_path)] = setting(
        None, accepts=_FILE_HINT, meaning="CA certificate file"
    )
    key: SecretText | None = setting(None, accepts=_SECRET_HINT, meaning=_SECRET_FIELD_MEANING.format("key", "key.pem"))
    cert: SecretText | None = setting(
        None, accepts=_SECRET_HINT, meaning=_SECRET_FIELD_MEANING.format("cert", "cert.pem")
    )
    ca_cert: SecretText | None = setting(
        None, accepts=_SECRET_HINT, meaning=_SECRET_FIELD_MEANING.format("caCert", "ca.pem")
    )
    username: Annotated[str | None, _checked(lambda v: bool(v) and ":" not in v)] = setting(
        None, accepts="a non-empty user name without ':'", meaning="etcd user; needs `password`"
    )
    password: SecretText | None = setting(None, accepts=_SECRET_HINT, meaning="etcd password, set with `--secret`")

    @classmethod
    def listed_keys(cls) -> list[str]:
        return sorted(cls.config_fields())

    @classmethod
    def checks(cls, data: dict[str, Any], info: ValidationInfo) -> list[InitErrorDetails]:
        problems = []
        endpoints = data.get("endpoints")
        if isinstance(endpoints, list) and endpoints and len(set(map(json.dumps, endpoints))) != len(endpoints):
            problems.append(value_problem(("endpoints",), endpoints, "each endpoint listed once"))
        present = {name: cls.valid(data, name, info) is not None for name in cls.config_fields()}
        for file_name, inline_name in (("keyFile", "key"), ("certFile", "cert"), ("caCertFile", "caCert")):
            if present[file_name] and present[inline_name]:
                problems.append(
                    note_problem((), f"set either {file_name} (a path) or {inline_name} (inline PEM), not both")
                )
        if (present["keyFile"] or present["key"]) != (present["certFile"] or present["cert"]):
            problems.append(
                note_problem(
                    (),
                    "a client key needs its certificate and a certificate needs its key; "
                    "set both keyFile and certFile (or key and cert), or neither",
                )
            )
        if present["username"] != present["password"]:
            problems.append(note_problem((), "username and password go together; set both or neither"))
        if any(present[name] for name in ("key", "cert", "caCert", "password")) and "datastore" not in _secret_roots(
            info
        ):
            problems.append(
                note_problem(
                    (),
                    "inline key, cert, caCert and password must be stored encrypted; set them with "
                    f"`pulumi config set --secret --path {PROJECT}:datastore.<field>` (value not shown)",
                )
            )
        return problems


INSTALLS = ("manifest", "operator")
SCRAPE_MODES = ("pod", "service")


class CalicoctlSettings(Section):
    summary: ClassVar[str] = "How calicoctl is run"

    path: Annotated[str, _checked(_non_empty_path)] = setting(
        "calicoctl",
        accepts="the calicoctl executable: a name on PATH or a path",
        meaning="the executable, on `PATH` or a path",
    )
    allow_version_mismatch: bool = setting(
        False, accepts="true or false", meaning="pass `--allow-version-mismatch` to every call"
    )
    timeout_seconds: Annotated[int, Field(ge=5, le=3600)] = setting(
        120,
        accepts="a whole number from 5 to 3600",
        meaning="stop a calicoctl call after this long (5 to 3600); calicoctl keeps retrying an unreachable datastore",
    )


_RELABEL_ACTIONS = (
    "replace",
    "keep",
    "drop",
    "hashmod",
    "labelmap",
    "labeldrop",
    "labelkeep",
    "lowercase",
    "uppercase",
    "keepequal",
    "dropequal",
)
_PROMETHEUS_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _is_regex(value: str) -> bool:
    try:
        re.compile(value)
    except re.error:
        return False
    return True


class RelabelConfig(Section):
    """One prometheus-operator RelabelConfig, as its CRD spells the fields."""

    source_labels: Annotated[
        tuple[Annotated[str, _checked(lambda v: _PROMETHEUS_LABEL.match(v) is not None)], ...] | None,
        BeforeValidator(_as_tuple),
    ] = setting(None, accepts="a list of Prometheus label names", meaning="labels whose values are joined")
    separator: str | None = setting(None, accepts="a string", meaning="what joins the source labels' values")
    target_label: Annotated[str | None, _checked(bool)] = setting(
        None, accepts="a label name", meaning="the label a replace or hashmod writes"
    )
    regex: Annotated[str | None, _checked(_is_regex)] = setting(
        None, accepts="a regular expression", meaning="matched against the joined values"
    )
    modulus: Annotated[int | None, Field(ge=1)] = setting(None, accepts="a whole number from 1", meaning="for hashmod")
    replacement: str | None = setting(None, accepts="a string", meaning="what a replace writes")
    action: Annotated[
        str | None,
        BeforeValidator(lambda v: v.lower() if isinstance(v, str) else v),
        _checked(lambda v: v in _RELABEL_ACTIONS),
    ] = setting(None, accepts="one of " + ", ".join(_RELABEL_ACTIONS), meaning="what to do (default replace)")

    def manifest(self) -> dict[str, Any]:
        """The entry as it goes into a monitor's relabelings or metricRelabelings."""
        given = self.model_dump(by_alias=True, exclude_none=True)
        return {key: list(value) if isinstance(value, tuple) else value for key, value in given.items()}


_RELABELINGS_HINT = (
    "a list of relabel configs ({sourceLabels, separator, targetLabel, regex, modulus, replacement, action})"
)
_RELABEL_HINT = (
    "a relabel config: an object with any of sourceLabels, separator, targetLabel, regex, modulus, replacement, action"
)
Relabelings = Annotated[tuple[RelabelConfig, ...], BeforeValidator(_as_tuple)]
AnnotationKey = Annotated[str, _checked(is_label_key)]
Annotations = Annotated[dict[AnnotationKey, str], BeforeValidator(_as_dict), AfterValidator(_sorted_pairs)]
_ANNOTATIONS_HINT = "a map of Kubernetes annotation names to string values"
_SAMPLE_LIMIT_HINT = "a whole number from 0 (0: no limit)"


class MonitorSettings(Section):
    """One component's monitor: each setting given here replaces podMonitor's for it (labels and
    annotations are added to podMonitor's)."""

    summary: ClassVar[str] = "This component's monitor; unset settings follow podMonitor"

    enabled: bool | None = setting(
        None,
        accepts="true or false",
        meaning="false: the metrics are still turned on, but this stack creates no monitor for them and leaves "
        "the component out of its dashboards, alerts and verification (for a scrape set up elsewhere)",
        shown_default="`true`",
    )
    interval: Annotated[str | None, _checked(_positive_duration)] = setting(
        None, accepts=DURATION_HINT, meaning="scrape interval", shown_default="`podMonitor.interval`"
    )
    scrape_timeout: Annotated[str | None, _checked(_positive_duration)] = setting(
        None, accepts=DURATION_HINT, meaning="at most the interval", shown_default="`podMonitor.scrapeTimeout`"
    )
    labels: Labels | None = setting(
        None,
        accepts=_LABELS_HINT,
        item=_LABEL_VALUE_HINT,
        key=_LABEL_KEY_HINT,
        meaning="added to podMonitor's labels on this monitor",
        shown_default="`{}`",
    )
    annotations: Annotations | None = setting(
        None,
        accepts=_ANNOTATIONS_HINT,
        item="a string",
        key="a Kubernetes annotation name",
        meaning="added to podMonitor's annotations on this monitor",
        shown_default="`{}`",
    )
    relabelings: Relabelings | None = setting(
        None,
        accepts=_RELABELINGS_HINT,
        item=_RELABEL_HINT,
        meaning="relabelings after the program's own (job, node)",
        shown_default="`podMonitor.relabelings`",
    )
    metric_relabelings: Relabelings | None = setting(
        None,
        accepts=_RELABELINGS_HINT,
        item=_RELABEL_HINT,
        meaning="applied to scraped samples, before keepOnlyUsedMetrics' filter",
        shown_default="`podMonitor.metricRelabelings`",
    )
    honor_labels: bool | None = setting(
        None,
        accepts="true or false",
        meaning="keep the target's labels on conflict",
        shown_default="`podMonitor.honorLabels`",
    )
    sample_limit: Annotated[int | None, Field(ge=0)] = setting(
        None,
        accepts=_SAMPLE_LIMIT_HINT,
        meaning="the scrape fails when a target exposes more samples",
        shown_default="`podMonitor.sampleLimit`",
    )


_PORT = Annotated[int, Field(ge=1, le=65535)]
_PORT_HINT = "a port number from 1 to 65535"


class FelixSettings(Section):
    summary: ClassVar[str] = "Felix's Prometheus metrics (FelixConfiguration) and how they are scraped"

    metrics_port: _PORT = setting(9091, accepts=_PORT_HINT, meaning="`prometheusMetricsPort`")
    metrics_host: Annotated[str | None, _checked(_is_host)] = setting(
        None,
        accepts="an IP address or host name for Felix to listen on",
        meaning="`prometheusMetricsHost` (left alone when unset)",
    )
    go_metrics: bool | None = setting(
        None, accepts="true or false", meaning="`prometheusGoMetricsEnabled` (left alone when unset)"
    )
    process_metrics: bool | None = setting(
        None, accepts="true or false", meaning="`prometheusProcessMetricsEnabled` (left alone when unset)"
    )
    # pod: declare the port on calico-node (one rollout) and use a PodMonitor;
    # service: a headless Service and a ServiceMonitor, nothing restarts.
    scrape: Literal["pod", "service"] = setting(
        "pod",
        accepts='"pod" or "service"',
        meaning="`pod`: a PodMonitor on a port declared on calico-node; `service`: a headless Service and a "
        "ServiceMonitor, nothing restarts",
        shown_default="`pod` (`service` for operator installs)",
    )
    monitor: MonitorSettings = setting(
        default_factory=MonitorSettings,
        accepts="an object",
        meaning="Felix's monitor: `enabled`, `interval`, `scrapeTimeout`, `labels`, `annotations`, "
        "`relabelings`, `metricRelabelings`, `honorLabels`, `sampleLimit` (each unset one follows `podMonitor`)",
        shown_default="`{}`",
    )


class CalicoNodeSettings(Section):
    summary: ClassVar[str] = "The calico-node DaemonSet"

    namespace: Annotated[str, _checked(is_dns1123_label)] = setting(
        "kube-system",
        accepts=_NAMESPACE_HINT,
        meaning="where calico-node runs",
        shown_default="`kube-system` (`calico-system` for operator installs)",
    )
    daemon_set: Annotated[str, _checked(is_dns1123_subdomain)] = setting(
        "calico-node", accepts="a Kubernetes DaemonSet name", meaning="the DaemonSet"
    )
    container: Annotated[str, _checked(is_dns1123_label)] = setting(
        "calico-node", accepts=_CONTAINER_HINT, meaning="the container Felix runs in"
    )
    port_name: Annotated[str, _checked(is_port_name)] = setting(
        "http-metrics", accepts=_PORT_NAME_HINT, meaning="the name of the metrics port declared on it (pod scrape)"
    )


class PodMonitorSettings(Section):
    summary: ClassVar[str] = "Settings of every monitor the program creates (PodMonitors and ServiceMonitors)"

    name: Annotated[str, _checked(is_dns1123_subdomain)] = setting(
        "felix",
        accepts="a Kubernetes object name (lowercase, digits, '-', '.')",
        meaning="the Felix monitor; the job is `<namespace>/<name>`",
    )
    namespace: Annotated[str, _checked(is_dns1123_label)] = setting(
        "monitoring", accepts=_NAMESPACE_HINT, meaning="where monitors live"
    )
    interval: Annotated[str, _checked(_positive_duration)] = setting(
        "15s", accepts=DURATION_HINT, meaning="scrape interval"
    )
    scrape_timeout: Annotated[str | None, _checked(_positive_duration)] = setting(
        None, accepts=DURATION_HINT, meaning="at most `interval`"
    )
    path: Annotated[str, _checked(lambda v: v.startswith("/") and " " not in v)] = setting(
        "/metrics", accepts="an HTTP path starting with /", meaning="the metrics path"
    )
    labels: Labels = setting(
        (),
        accepts=_LABELS_HINT,
        item=_LABEL_VALUE_HINT,
        key=_LABEL_KEY_HINT,
        meaning="added to every monitor, e.g. `release: kube-prometheus-stack`",
        shown_default="`{}`",
    )
    # Keep only the metrics the shipped dashboards, recording rules and alerts read.
    keep_only_used_metrics: bool = setting(
        False,
        accepts="true or false",
        meaning="store only the metrics the shipped dashboards, recording rules and alerts read "
        "(see [Prometheus cost](#prometheus-cost))",
    )

    annotations: Annotations = setting(
        (),
        accepts=_ANNOTATIONS_HINT,
        item="a string",
        key="a Kubernetes annotation name",
        meaning="added to every monitor",
        shown_default="`{}`",
    )
    relabelings: Relabelings = setting(
        (),
        accepts=_RELABELINGS_HINT,
        item=_RELABEL_HINT,
        meaning="relabelings after the program's own (job, node)",
        shown_default="`[]`",
    )
    metric_relabelings: Relabelings = setting(
        (),
        accepts=_RELABELINGS_HINT,
        item=_RELABEL_HINT,
        meaning="applied to scraped samples, before keepOnlyUsedMetrics' filter",
        shown_default="`[]`",
    )
    honor_labels: bool = setting(False, accepts="true or false", meaning="keep the target's labels on conflict")
    sample_limit: Annotated[int | None, Field(ge=0)] = setting(
        None, accepts=_SAMPLE_LIMIT_HINT, meaning="the scrape fails when a target exposes more samples"
    )

    @property
    def job(self) -> str:
        """The `job` label prometheus-operator gives targets of this PodMonitor."""
        return f"{self.namespace}/{self.name}"

    def with_overrides(self, monitor: MonitorSettings) -> PodMonitorSettings:
        """These settings as one component's monitor gets them: its own where given, else these."""
        update: dict[str, Any] = {
            name: getattr(monitor, name)
            for name in (
                "interval",
                "scrape_timeout",
                "relabelings",
                "metric_relabelings",
                "honor_labels",
                "sample_limit",
            )
            if getattr(monitor, name) is not None
        }
        for name in ("labels", "annotations"):
            if getattr(monitor, name) is not None:
                update[name] = tuple(sorted({**dict(getattr(self, name)), **dict(getattr(monitor, name))}.items()))
        return self.model_copy(update=update) if update else self

    @classmethod
    def checks(cls, data: dict[str, Any], info: ValidationInfo) -> list[InitErrorDetails]:
        interval = cls.value_or_default(data, "interval", info)
        timeout = cls.valid(data, "scrapeTimeout", info)
        if timeout is not None and interval is not None and duration_ms(timeout) > duration_ms(interval):
            return [value_problem(("scrapeTimeout",), timeout, f"at most the scrape interval ({interval})")]
        return []


_W_ENABLED = "scrape it: its monitor (and, for manifest installs, its metrics turned on and its port declared)"


class WorkloadSettings(Section):
    """Typha or calico-kube-controllers: a Deployment whose metrics this program scrapes."""

    enabled: bool = setting(accepts="true or false", meaning=_W_ENABLED)
    metrics_port: _PORT = setting(accepts=_PORT_HINT, meaning="its metrics port")
    namespace: Annotated[str, _checked(is_dns1123_label)] = setting(
        accepts=_NAMESPACE_HINT,
        meaning="where it runs",
        shown_default="`kube-system` (`calico-system` for operator installs)",
    )
    deployment: Annotated[str, _checked(is_dns1123_subdomain)] = setting(
        accepts="a Kubernetes Deployment name", meaning="manifest installs only"
    )
    container: Annotated[str, _checked(is_dns1123_label)] = setting(
        accepts=_CONTAINER_HINT, meaning="manifest installs only"
    )
    port_name: Annotated[str, _checked(is_port_name)] = setting(
        accepts=_PORT_NAME_HINT, meaning="manifest installs only"
    )
    monitor_name: Annotated[str, _checked(is_dns1123_subdomain)] = setting(
        accepts=_OBJECT_NAME_HINT, meaning="its monitor; the job is `<podMonitor.namespace>/<monitorName>`"
    )
    monitor: MonitorSettings = setting(
        default_factory=MonitorSettings,
        accepts="an object",
        meaning="its monitor: `enabled`, `interval`, `scrapeTimeout`, `labels`, `annotations`, "
        "`relabelings`, `metricRelabelings`, `honorLabels`, `sampleLimit` (each unset one follows `podMonitor`)",
        shown_default="`{}`",
    )


class TyphaSettings(WorkloadSettings):
    summary: ClassVar[str] = "Typha's metrics (the calico-typha Deployment)"

    enabled: bool = setting(
        False, accepts="true or false", meaning=_W_ENABLED, shown_default="`false` (`true` for operator installs)"
    )
    metrics_port: _PORT = setting(9093, accepts=_PORT_HINT, meaning="its metrics port")
    namespace: Annotated[str, _checked(is_dns1123_label)] = setting(
        "kube-system",
        accepts=_NAMESPACE_HINT,
        meaning="where it runs",
        shown_default="`kube-system` (`calico-system` for operator installs)",
    )
    deployment: Annotated[str, _checked(is_dns1123_subdomain)] = setting(
        "calico-typha", accepts="a Kubernetes Deployment name", meaning="manifest installs only"
    )
    container: Annotated[str, _checked(is_dns1123_label)] = setting(
        "calico-typha", accepts=_CONTAINER_HINT, meaning="manifest installs only"
    )
    port_name: Annotated[str, _checked(is_port_name)] = setting(
        "http-metrics", accepts=_PORT_NAME_HINT, meaning="manifest installs only"
    )
    monitor_name: Annotated[str, _checked(is_dns1123_subdomain)] = setting(
        "calico-typha",
        accepts=_OBJECT_NAME_HINT,
        meaning="its monitor; the job is `<podMonitor.namespace>/<monitorName>`",
    )


class KubeControllersSettings(WorkloadSettings):
    summary: ClassVar[str] = "calico-kube-controllers' metrics"

    enabled: bool = setting(True, accepts="true or false", meaning=_W_ENABLED)
    metrics_port: _PORT = setting(9094, accepts=_PORT_HINT, meaning="its metrics port")
    namespace: Annotated[str, _checked(is_dns1123_label)] = setting(
        "kube-system",
        accepts=_NAMESPACE_HINT,
        meaning="where it runs",
        shown_default="`kube-system` (`calico-system` for operator installs)",
    )
    deployment: Annotated[str, _checked(is_dns1123_subdomain)] = setting(
        "calico-kube-controllers", accepts="a Kubernetes Deployment name", meaning="manifest installs only"
    )
    container: Annotated[str, _checked(is_dns1123_label)] = setting(
        "calico-kube-controllers", accepts=_CONTAINER_HINT, meaning="manifest installs only"
    )
    port_name: Annotated[str, _checked(is_port_name)] = setting(
        "http-metrics", accepts=_PORT_NAME_HINT, meaning="manifest installs only"
    )
    monitor_name: Annotated[str, _checked(is_dns1123_subdomain)] = setting(
        "calico-kube-controllers",
        accepts=_OBJECT_NAME_HINT,
        meaning="its monitor; the job is `<podMonitor.namespace>/<monitorName>`",
    )


_ALERTS_BY_NAME = {alert.name: alert for alert in ALERTS}
_ALERT_DURATION_HINT = "a Prometheus duration such as 30s, 5m, 1h30m or 1d (units ms, s, m, h, d, w, y)"


def _threshold_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError("not a positive number")
    return float(value) if isinstance(value, float) else value


class AlertOverride(Section):
    """What a stack may change about one shipped alert."""

    enabled: bool | None = setting(None, accepts="true or false", meaning="false drops the alert")
    for_: Annotated[str | None, _checked(lambda v: v == "0" or duration_ms(v) is not None)] = setting(
        None, alias="for", accepts=_ALERT_DURATION_HINT, meaning="how long the condition holds before it fires"
    )
    severity: Literal["critical", "warning", "info"] | None = setting(
        None, accepts="one of " + ", ".join(SEVERITIES), meaning="the severity label"
    )
    threshold: Annotated[float | int | None, BeforeValidator(_threshold_number)] = setting(
        None, accepts="a number greater than 0", meaning="where the alert has one"
    )

    def given(self) -> dict[str, Any]:
        """The fields the stack set, under their config names (what the rule builder takes)."""
        return self.model_dump(by_alias=True, exclude_unset=True)


def _alert_fields(alert: Any) -> list[str]:
    return list(alert.fields)


def _threshold_hint(alert: Any) -> str:
    bound = "a number greater than 0"
    if alert.threshold_max is not None:
        bound += f" and at most {alert.threshold_max:g}"
    return f"{bound} ({alert.threshold_meaning})" if alert.threshold_meaning else bound


_OVERRIDE_ALIASES = {"enabled", "for", "severity", "threshold"}


def _above(value: Any, bound: float | None) -> bool:
    return bound is not None and isinstance(value, (int, float)) and not isinstance(value, bool) and value > bound


def _overrides_plain(value: Any) -> Any:
    return {name: override.given() for name, override in value.items()}


Overrides = Annotated[dict[str, AlertOverride], AfterValidator(_overrides_plain)]


class AlertSettings(Section):
    summary: ClassVar[str] = "The PrometheusRule: recording rules, alerts and their overrides"

    enabled: bool = setting(
        True,
        accepts="true or false",
        meaning="the alerting rules; when false the PrometheusRule keeps only the recording rules the dashboards "
        "query (and is not created when dashboards are off too)",
    )
    name: Annotated[str, _checked(is_dns1123_subdomain)] = setting(
        "calico", accepts=_OBJECT_NAME_HINT, meaning="PrometheusRule name"
    )
    namespace: Annotated[str, _checked(is_dns1123_label)] = setting(
        "monitoring",
        accepts=_NAMESPACE_HINT,
        meaning="where the PrometheusRule goes",
        shown_default="`podMonitor.namespace`",
    )
    labels: Labels = setting(
        (),
        accepts=_LABELS_HINT,
        item=_LABEL_VALUE_HINT,
        key=_LABEL_KEY_HINT,
        meaning="so the Prometheus `ruleSelector` picks it up",
        shown_default="`podMonitor.labels`",
    )
    runbook_base_url: Annotated[str | None, _checked(_is_page_url)] = setting(
        None,
        accepts="an http(s) URL of the runbook page",
        meaning="your copy of `docs/runbooks.md`; each alert links `<url>#<its name in lower case>` (the same as "
        "`runbookUrlPattern: <url>#{anchor}`)",
    )
    runbook_url_pattern: Annotated[str | None, _checked(is_runbook_url_pattern)] = setting(
        None,
        accepts="an http(s) URL with {alert} (the alert name) or {anchor} (its section anchor, the name in lower "
        "case), nothing else in braces",
        meaning="each alert's `runbook_url`; unset, alerts name their section of the shipped `docs/runbooks.md` in a "
        "`runbook` annotation instead of linking a page that may not exist",
    )
    overrides: Overrides = setting(
        default_factory=dict,
        accepts="a map of alert names to overrides",
        meaning="per alert: `enabled`, `for`, `severity` (`critical`, `warning`, `info`), `threshold` where the "
        "alert has one",
        shown_default="`{}`",
    )
    # Label that tells clusters apart where one Prometheus, Thanos or Mimir sees several.
    cluster_label: Annotated[str | None, _checked(is_label_name)] = setting(
        None,
        accepts="a Prometheus label name such as cluster (not starting with __)",
        meaning="a label such as `cluster` that tells clusters apart where one Prometheus, Thanos or Mimir sees "
        "several; every aggregation and join in the rules keeps it",
    )

    rule_labels: Labels = setting(
        (),
        accepts=_LABELS_HINT,
        item=_LABEL_VALUE_HINT,
        key=_LABEL_KEY_HINT,
        meaning="added to every alert's labels (say `team`, for Alertmanager routing); `severity` stays the alert's",
        shown_default="`{}`",
    )
    rule_annotations: Annotations = setting(
        (),
        accepts=_ANNOTATIONS_HINT,
        item="a string",
        key="a Kubernetes annotation name",
        meaning="added to every alert's annotations; the ones the program writes ("
        + ", ".join(f"`{name}`" for name in ALERT_ANNOTATIONS)
        + ") stay its own",
        shown_default="`{}`",
    )

    @property
    def runbook_url(self) -> str | None:
        """The runbook URL pattern the rules get: runbookUrlPattern, or runbookBaseUrl#{anchor}."""
        if self.runbook_url_pattern is not None:
            return self.runbook_url_pattern
        return None if self.runbook_base_url is None else self.runbook_base_url.split("#")[0] + "#{anchor}"

    @classmethod
    def checks(cls, data: dict[str, Any], info: ValidationInfo) -> list[InitErrorDetails]:
        problems = []
        if cls.valid(data, "runbookBaseUrl", info) is not None and cls.valid(data, "runbookUrlPattern", info):
            problems.append(note_problem((), "set runbookUrlPattern or runbookBaseUrl, not both"))
        labels, annotations = data.get("ruleLabels"), data.get("ruleAnnotations")
        if isinstance(labels, Mapping) and "severity" in labels:
            problems.append(
                note_problem(
                    ("ruleLabels", "severity"),
                    "each alert sets its own severity; change it per alert with overrides.<alert>.severity",
                )
            )
        if isinstance(annotations, Mapping):
            problems.extend(
                note_problem(
                    ("ruleAnnotations", name),
                    f"the program writes {name} on every alert; choose another annotation name",
                )
                for name in ALERT_ANNOTATIONS
                if name in annotations
            )
        return problems

    @classmethod
    def prepare(cls, data: dict[str, Any], info: ValidationInfo) -> tuple[dict[str, Any], list[InitErrorDetails]]:
        overrides = data.get("overrides")
        if not isinstance(overrides, Mapping):
            return data, []
        problems = []
        kept = {}
        for name, override in overrides.items():
            alert = _ALERTS_BY_NAME.get(name)
            loc = ("overrides", name)
            if alert is None:
                problems.append(unknown_problem(loc, name, sorted(_ALERTS_BY_NAME), what="alert"))
                continue
            fields = _alert_fields(alert)
            if not isinstance(override, Mapping):
                problems.append(value_problem(loc, override, "a map with any of " + ", ".join(fields)))
                continue
            for field, value in override.items():
                if field not in fields:
                    if field in _OVERRIDE_ALIASES:  # a threshold on an alert that has none
                        problems.append(
                            note_problem(
                                (*loc, field),
                                f"{alert.name} has no {field}; it accepts " + ", ".join(fields),
                            )
                        )
                    else:
                        problems.append(unknown_problem((*loc, field), field, fields))
                elif field == "threshold" and _above(value, alert.threshold_max):
                    problems.append(value_problem((*loc, field), value, _threshold_hint(alert)))
            kept[name] = {f: v for f, v in override.items() if f in fields}
        return {**data, "overrides": kept}, problems

    @classmethod
    def explain(cls, error: Mapping[str, Any]) -> InitErrorDetails:
        loc = tuple(error["loc"])
        if (
            error["type"] == "calico_value"
            and len(loc) == 3
            and loc[0] == "overrides"
            and loc[2] == "threshold"
            and loc[1] in _ALERTS_BY_NAME
        ):
            return value_problem(loc, error.get("input"), _threshold_hint(_ALERTS_BY_NAME[loc[1]]))
        return super().explain(error)


class DashboardSettings(Section):
    summary: ClassVar[str] = "The Grafana dashboards, as ConfigMaps for Grafana's sidecar"

    enabled: bool = setting(True, accepts="true or false", meaning="ship the dashboards")
    namespace: Annotated[str, _checked(is_dns1123_label)] = setting(
        "monitoring", accepts=_NAMESPACE_HINT, meaning="where the ConfigMaps go (the sidecar must watch it)"
    )
    datasource: Annotated[str, _checked(lambda v: re.fullmatch(r"[A-Za-z0-9._-]{1,40}", v) is not None)] = setting(
        "prometheus",
        accepts="a Grafana datasource uid (letters, digits, '.', '_', '-'; at most 40)",
        meaning="uid of the Grafana Prometheus datasource (kube-prometheus-stack's is `prometheus`)",
    )
    labels: Labels = setting(
        (("grafana_dashboard", "1"),),
        accepts=_LABELS_HINT,
        item=_LABEL_VALUE_HINT,
        key=_LABEL_KEY_HINT,
        meaning="replaces the default when set",
        shown_default='`{grafana_dashboard: "1"}`',
    )
    annotations: Annotations = setting(
        (),
        accepts=_ANNOTATIONS_HINT,
        item="a string",
        key="a Kubernetes annotation name",
        meaning="added to every dashboard ConfigMap (say your sidecar's folder annotation); `folder` sets "
        "`grafana_folder`",
        shown_default="`{}`",
    )
    folder: Annotated[str | None, _checked(lambda v: bool(v.strip()) and "\n" not in v)] = setting(
        None, accepts="a Grafana folder name", meaning="Grafana folder, as the `grafana_folder` annotation"
    )
    imports: Annotated[tuple[Annotated[str, _checked(_non_empty_path)], ...], BeforeValidator(_as_tuple)] = setting(
        (),
        alias="import",
        accepts="a list of dashboard file paths (*.json or a ConfigMap YAML)",
        item="a dashboard file path (*.json or a ConfigMap YAML)",
        meaning="more dashboards: `*.json` files, or ConfigMap YAML such as Calico's official "
        "`grafana-dashboards.yaml`; paths relative to this folder",
        shown_default="`[]`",
    )
    cluster_label: Annotated[str | None, _checked(is_label_name)] = setting(
        None,
        accepts="a Prometheus label name such as cluster (not starting with __)",
        meaning="adds a `cluster` variable (the values of this label) to every shipped dashboard, and a matcher on it "
        "to every query; for one Grafana over several clusters",
        shown_default="`alerts.clusterLabel`",
    )
    grafana_url: Annotated[str | None, _checked(_is_grafana_url)] = setting(
        None,
        accepts="an http(s) URL without user, query or fragment",
        meaning="Grafana's base URL as people open it (e.g. `https://grafana.example.com`); each alert then "
        "links its dashboard in a `dashboard_url` annotation",
    )

    @classmethod
    def checks(cls, data: dict[str, Any], info: ValidationInfo) -> list[InitErrorDetails]:
        annotations = data.get("annotations")
        if data.get("folder") is not None and isinstance(annotations, Mapping) and "grafana_folder" in annotations:
            return [note_problem(("annotations", "grafana_folder"), "folder sets grafana_folder; set one of them")]
        return []


class VerifySettings(Section):
    """After `pulumi up`, wait until this Prometheus scrapes every target of the stack's monitors."""

    summary: ClassVar[str] = "After `pulumi up`, wait until Prometheus scrapes every target of the stack's monitors"

    prometheus_url: Annotated[str, _checked(_is_prometheus_url)] = setting(
        accepts="the base URL of the Prometheus that scrapes these monitors, http:// or https:// without user, "
        "query or fragment, such as http://prometheus-operated.monitoring:9090",
        required="setting it turns verification on",
        meaning="base URL of the Prometheus that should scrape these monitors, as the machine that runs `pulumi up` "
        "reaches it: `http://` or `https://`, a path prefix allowed, no user, query or fragment (e.g. "
        "`http://localhost:9090` next to `kubectl -n monitoring port-forward svc/prometheus-operated 9090`)",
        shown_default="unset",
    )
    timeout_seconds: Annotated[int, Field(ge=10, le=3600)] = setting(
        180, accepts="a whole number from 10 to 3600", meaning="how long `up` waits for the targets (10 to 3600)"
    )

    def __init__(self, prometheus_url: str | None = None, timeout_seconds: int | None = None, **data: Any) -> None:
        if prometheus_url is not None:
            data["prometheus_url"] = prometheus_url
        if timeout_seconds is not None:
            data["timeout_seconds"] = timeout_seconds
        super().__init__(**data)


def section_models(annotation: Any) -> tuple[type[Section], ...]:
    """The Section models a field's annotation holds (``X``, ``X | None``, a discriminated union)."""
    if isinstance(annotation, type):
        return (annotation,) if issubclass(annotation, Section) else ()
    args = get_args(annotation)
    if get_origin(annotation) is Annotated:
        args = args[:1]
    return tuple(model for arg in args for model in section_models(arg))


Datastore = Annotated[KubernetesDatastore | EtcdDatastore, Discriminator("type")]
_OPERATOR_NAMESPACE = "calico-system"


class Settings(Section):
    """Every setting of a stack; keys are the `calico-monitoring:*` config keys without the project prefix."""

    install: Literal["manifest", "operator"] = setting(
        "manifest",
        accepts='"manifest" or "operator"',
        meaning='How Calico is installed, "manifest" (calico.yaml, kube-system) or "operator" (Tigera operator, '
        "calico-system).",
    )
    datastore: Datastore = setting(
        accepts='"kubernetes" or "etcdv3"',
        required="an object with at least `type`",
        meaning="The Calico datastore calicoctl talks to.",
    )
    calicoctl: CalicoctlSettings = setting(default_factory=CalicoctlSettings, accepts="an object")
    felix: FelixSettings = setting(default_factory=FelixSettings, accepts="an object")
    calico_node: CalicoNodeSettings = setting(default_factory=CalicoNodeSettings, accepts="an object")
    pod_monitor: PodMonitorSettings = setting(default_factory=PodMonitorSettings, accepts="an object")
    typha: TyphaSettings = setting(default_factory=TyphaSettings, accepts="an object")
    kube_controllers: KubeControllersSettings = setting(default_factory=KubeControllersSettings, accepts="an object")
    alerts: AlertSettings = setting(default_factory=AlertSettings, accepts="an object")
    dashboards: DashboardSettings = setting(default_factory=DashboardSettings, accepts="an object")
    verify: VerifySettings | None = setting(None, accepts="an object")
    render_yaml_to: Annotated[
        str | None, BeforeValidator(lambda v: None if v == "" else v), _checked(_non_empty_path)
    ] = setting(
        None,
        accepts="a directory path",
        meaning="Optional. Write manifests and calicoctl scripts under this folder instead of applying them (GitOps).",
    )
    kubernetes: KubernetesProviderSettings = setting(
        default_factory=KubernetesProviderSettings, accepts="an object", alias=PROVIDER_KEY
    )

    @classmethod
    def listed_keys(cls) -> list[str]:
        return sorted(cls.listed_keys_in_order())

    @classmethod
    def listed_keys_in_order(cls) -> list[str]:
        """The `calico-monitoring:*` keys, in the order Pulumi.yaml and the README list them."""
        return [key for key in cls.config_fields() if key != PROVIDER_KEY]

    @classmethod
    def sections(cls) -> dict[str, tuple[type[Section], ...]]:
        """Object-valued config keys and their models (the datastore is a choice of two)."""
        return {
            alias: models
            for alias, name in cls.config_fields().items()
            if alias != PROVIDER_KEY and (models := section_models(cls.model_fields[name].annotation))
        }

    @classmethod
    def explain(cls, error: Mapping[str, Any]) -> InitErrorDetails:
        loc = tuple(error["loc"])
        if loc[:1] == ("datastore",):
            if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
                raw = error.get("input")
                tag = raw.get("type") if isinstance(raw, Mapping) else None
                return value_problem(("datastore", "type"), tag, '"kubernetes" or "etcdv3"')
            if len(loc) > 1 and loc[1] in ("kubernetes", "etcdv3"):
                return _carry(error, (loc[0], *loc[2:]))
        if loc[:1] == ("verify",) and len(loc) > 1 and loc[1] == "VerifySettings":
            return _carry(error, (loc[0], *loc[2:]))
        return super().explain(error)

    @classmethod
    def prepare(cls, data: dict[str, Any], info: ValidationInfo) -> tuple[dict[str, Any], list[InitErrorDetails]]:
        data = dict(data)
        sections = {key: dict(data[key]) for key in cls.sections() if isinstance(data.get(key), Mapping)}
        if "verify" in sections and not sections["verify"]:
            del sections["verify"]  # Pulumi.yaml's default {}: verification off
            data.pop("verify", None)
        if cls.valid(data, "install", info) == "operator":
            # Defaults that follow the install type: the operator owns calico-system and runs Typha.
            sections.setdefault("felix", {}).setdefault("scrape", "service")
            sections.setdefault("calicoNode", {}).setdefault("namespace", _OPERATOR_NAMESPACE)
            sections.setdefault("typha", {}).setdefault("enabled", True)
            sections["typha"].setdefault("namespace", _OPERATOR_NAMESPACE)
            sections.setdefault("kubeControllers", {}).setdefault("namespace", _OPERATOR_NAMESPACE)
        pod_monitor = sections.get("podMonitor", {})
        for alias in ("namespace", "labels"):  # the rule follows the monitors unless told otherwise
            if alias in pod_monitor and PodMonitorSettings.valid(pod_monitor, alias, info) is not None:
                sections.setdefault("alerts", {}).setdefault(alias, pod_monitor[alias])
        alerts = sections.get("alerts", {})
        if "clusterLabel" in alerts and AlertSettings.valid(alerts, "clusterLabel", info) is not None:
            # the dashboards tell clusters apart with the label the rules keep, unless told otherwise
            sections.setdefault("dashboards", {}).setdefault("clusterLabel", alerts["clusterLabel"])
        for key, section in sections.items():
            if section or key in data:
                data[key] = section
        return data, []

    @classmethod
    def checks(cls, data: dict[str, Any], info: ValidationInfo) -> list[InitErrorDetails]:
        problems = []
        prefix = f"{PROJECT}:"
        operator = cls.value_or_default(data, "install", info) == "operator"
        felix = data.get("felix") if isinstance(data.get("felix"), Mapping) else {}
        if operator and felix.get("scrape") == "pod":
            problems.append(
                value_problem(
                    ("felix", "scrape"),
                    "pod",
                    '"service" with install: operator (the operator reverts any port added to calico-node)',
                )
            )
        problems += cls._kubernetes_context_problems(data, info)
        render = cls.valid(data, "renderYamlTo", info)
        typha = data.get("typha") if isinstance(data.get("typha"), Mapping) else {}
        if render is not None:
            # A rendered manifest is applied whole by Argo CD or Flux; a patch of an object
            # someone else owns cannot be expressed that way.
            if FelixSettings.value_or_default(felix, "scrape", info) == "pod":
                problems.append(
                    note_problem(
                        ("renderYamlTo",),
                        'with felix.scrape "pod" this program would patch calico-node, '
                        f'which cannot be rendered as a manifest; set {prefix}felix.scrape to "service"',
                    )
                )
            if TyphaSettings.value_or_default(typha, "enabled", info):
                problems.append(
                    note_problem(
                        ("renderYamlTo",),
                        "Typha's metrics are turned on by patching "
                        f"{'the Installation' if operator else 'the calico-typha Deployment'}, which cannot be "
                        f"rendered; set {prefix}typha.enabled to false and enable them in your Calico manifests",
                    )
                )
            if isinstance(data.get("verify"), Mapping):
                problems.append(
                    note_problem(
                        ("verify",),
                        "cannot be used with renderYamlTo: render mode talks to no cluster and applies nothing, so "
                        f"there are no targets to check; unset {prefix}verify or {prefix}renderYamlTo",
                    )
                )
        problems += cls._monitor_timeout_problems(data, info)
        monitor_names = [PodMonitorSettings.value_or_default(data.get("podMonitor") or {}, "name", info)]
        controllers = data.get("kubeControllers") if isinstance(data.get("kubeControllers"), Mapping) else {}
        for model, section in ((TyphaSettings, typha), (KubeControllersSettings, controllers)):
            if model.value_or_default(section, "enabled", info):
                monitor_names.append(model.value_or_default(section, "monitorName", info))
        monitor_names = [name for name in monitor_names if name is not None]
        if len(set(monitor_names)) != len(monitor_names):
            problems.append(
                note_problem(
                    (),
                    "podMonitor.name, typha.monitorName and kubeControllers.monitorName must differ; "
                    f"got {json.dumps(monitor_names)}",
                )
            )
        return problems

    @classmethod
    def _monitor_timeout_problems(cls, data: dict[str, Any], info: ValidationInfo) -> list[InitErrorDetails]:
        """A component's own interval or scrape timeout against the one it takes from podMonitor."""
        pod_monitor = data.get("podMonitor") if isinstance(data.get("podMonitor"), Mapping) else {}
        interval = PodMonitorSettings.value_or_default(pod_monitor, "interval", info)
        timeout = PodMonitorSettings.valid(pod_monitor, "scrapeTimeout", info)
        problems = []
        for key in ("felix", "typha", "kubeControllers"):
            section = data.get(key)
            monitor = section.get("monitor") if isinstance(section, Mapping) else None
            if not isinstance(monitor, Mapping) or not ({"interval", "scrapeTimeout"} & set(monitor)):
                continue
            own_interval = MonitorSettings.valid(monitor, "interval", info) or interval
            own_timeout = MonitorSettings.valid(monitor, "scrapeTimeout", info) or timeout
            if None in (own_interval, own_timeout) or duration_ms(own_timeout) <= duration_ms(own_interval):
                continue
            if "scrapeTimeout" in monitor:
                problems.append(
                    value_problem(
                        (key, "monitor", "scrapeTimeout"), own_timeout, f"at most the scrape interval ({own_interval})"
                    )
                )
            else:
                problems.append(
                    value_problem(
                        (key, "monitor", "interval"), own_interval, f"at least the scrape timeout ({own_timeout})"
                    )
                )
        return problems

    @classmethod
    def _kubernetes_context_problems(cls, data: dict[str, Any], info: ValidationInfo) -> list[InitErrorDetails]:
        datastore = data.get("datastore")
        if not isinstance(datastore, Mapping) or datastore.get("type") != "kubernetes":
            return []
        provider_raw = data.get(PROVIDER_KEY) or {}
        provider = KubernetesProviderSettings(
            kubeconfig=KubernetesProviderSettings.valid(provider_raw, "kubeconfig", info),
            context=KubernetesProviderSettings.valid(provider_raw, "context", info),
        )
        _, _, context = calicoctl_kubeconfig(
            KubernetesDatastore.valid(datastore, "kubeconfig", info),
            KubernetesDatastore.valid(datastore, "context", info),
            provider,
        )
        if context is not None:
            return []
        key = f"{PROJECT}:datastore"
        return [
            note_problem(
                ("datastore",),
                "calicoctl would use whatever kubectl context is current on the machine running "
                "`pulumi up`; pin it with `pulumi config set kubernetes:context <context>` (the Kubernetes "
                f"provider uses it too) or `pulumi config set --path {key}.context <context>`",
            )
        ]

    @classmethod
    def resolve(cls, result: Section, data: dict[str, Any], info: ValidationInfo) -> Section:
        datastore = result.datastore
        if isinstance(datastore, KubernetesDatastore):
            path, content, context = calicoctl_kubeconfig(
                datastore.kubeconfig_path, datastore.context, result.kubernetes
            )
            datastore = datastore.model_copy(
                update={"kubeconfig_path": path, "kubeconfig_content": content, "context": context}
            )
            return result.model_copy(update={"datastore": datastore})
        return result

    def monitored(self, component: str) -> bool:
        """Whether this stack creates the monitor of "felix", "typha" or "kube-controllers"."""
        own = {"felix": self.felix, "typha": self.typha, "kube-controllers": self.kube_controllers}[component]
        return own.monitor.enabled is not False

    def monitor_settings(self, component: str) -> PodMonitorSettings:
        """The monitor settings of "felix", "typha" or "kube-controllers": podMonitor's with the component's own."""
        own = {"felix": self.felix, "typha": self.typha, "kube-controllers": self.kube_controllers}[component]
        return self.pod_monitor.with_overrides(own.monitor)

    @property
    def declares_ports(self) -> bool:
        """Whether metrics ports are declared on Calico's workloads (manifest install, pod scrape)."""
        return self.install == "manifest" and self.felix.scrape == "pod"

    def monitor_job(self, monitor_name: str) -> str:
        """The `job` label of a monitor's targets: prometheus-operator's <namespace>/<name>."""
        return f"{self.pod_monitor.namespace}/{monitor_name}"

    @property
    def jobs(self) -> dict[str, str]:
        """Scrape job per Calico component this stack scrapes (the dashboards and alerts use them)."""
        jobs = {"felix": self.pod_monitor.job} if self.monitored("felix") else {}
        if self.typha.enabled and self.monitored("typha"):
            jobs["typha"] = self.monitor_job(self.typha.monitor_name)
        if self.kube_controllers.enabled and self.monitored("kube-controllers"):
            jobs["kube-controllers"] = self.monitor_job(self.kube_controllers.monitor_name)
        return jobs

    @property
    def all_jobs(self) -> dict[str, str]:
        """The job of every Calico component's monitor, scraped by this stack or not (imported dashboards use them)."""
        return {
            "felix": self.pod_monitor.job,
            "typha": self.monitor_job(self.typha.monitor_name),
            "kube-controllers": self.monitor_job(self.kube_controllers.monitor_name),
        }
