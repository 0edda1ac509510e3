"""How the stack reaches the cluster: the Kubernetes provider's kubeconfig, the Calico datastore calicoctl
talks to, how calicoctl is run, and which kubeconfig and context calicoctl ends up with."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import BeforeValidator, Field, ValidationInfo
from pydantic_core import InitErrorDetails, PydanticCustomError

from builders.values import is_etcd_endpoint, is_non_empty_path
from configuration.fields import as_tuple
from configuration.problems import PROBLEM_TYPES, PROJECT, note_error, note_problem, secret_roots, value_problem
from configuration.section import Section, checked, setting

# A Calico release tag, as its release URLs and `calicoctl version` spell it.
CALICO_RELEASE = re.compile(r"v\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?")


def is_calico_release(text: str) -> bool:
    return CALICO_RELEASE.fullmatch(text) is not None


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


def _secret_text(value: Any) -> Any:
    if isinstance(value, Secret):
        return value
    if isinstance(value, str) and value.strip():
        return Secret(value)
    raise PydanticCustomError("calico_secret", PROBLEM_TYPES["calico_secret"])


SecretText = Annotated[Secret, BeforeValidator(_secret_text)]


def looks_like_kubeconfig_content(value: str) -> bool:
    """`kubernetes:kubeconfig` may hold a path or the kubeconfig document itself."""
    stripped = value.lstrip()
    return "\n" in value.strip() or stripped.startswith(("{", "apiVersion:", "kind:", "clusters:"))


_KUBECONFIG_HINT = "a kubeconfig file path or the kubeconfig text itself"


def _kubeconfig_source(value: Any) -> Any:
    if isinstance(value, (Secret, type(None))):
        return value
    if not isinstance(value, str) or not is_non_empty_path(value):
        raise note_error(f"expected {_KUBECONFIG_HINT}")
    return Secret(value) if looks_like_kubeconfig_content(value) else value


class KubernetesProviderSettings(Section):
    """The stack's `kubernetes:*` keys, handed to the one explicit provider."""

    # A path stays text; the kubeconfig document itself is kept as a Secret.
    kubeconfig: Annotated[str | Secret | None, BeforeValidator(_kubeconfig_source)] = setting(
        None,
        accepts=_KUBECONFIG_HINT,
        meaning="the kubeconfig of the Kubernetes provider: a path, or the kubeconfig text (then set it with --secret)",
    )
    context: Annotated[str | None, checked(bool)] = setting(
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
    kubeconfig_path: Annotated[str | None, checked(is_non_empty_path)] = setting(
        None,
        alias="kubeconfig",
        accepts="a kubeconfig file path",
        meaning="kubeconfig path for calicoctl only; needs `context`",
        shown_default="the provider's",
    )
    context: Annotated[str | None, checked(bool)] = setting(
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
        tuple[Annotated[str, checked(is_etcd_endpoint)], ...], BeforeValidator(as_tuple), Field(min_length=1)
    ] = setting(
        accepts=_ENDPOINTS_HINT,
        meaning="non-empty list of `http://` or `https://` URLs",
    )
    key_file: Annotated[str | None, checked(is_non_empty_path)] = setting(
        None, accepts=_FILE_HINT, meaning="client key file on the machine that runs Pulumi (as in the tutorial)"
    )
    cert_file: Annotated[str | None, checked(is_non_empty_path)] = setting(
        None, accepts=_FILE_HINT, meaning="client certificate file"
    )
    ca_cert_file: Annotated[str | None, checked(is_non_empty_path)] = setting(
        None, accepts=_FILE_HINT, meaning="CA certificate file"
    )
    key: SecretText | None = setting(None, accepts=_SECRET_HINT, meaning=_SECRET_FIELD_MEANING.format("key", "key.pem"))
    cert: SecretText | None = setting(
        None, accepts=_SECRET_HINT, meaning=_SECRET_FIELD_MEANING.format("cert", "cert.pem")
    )
    ca_cert: SecretText | None = setting(
        None, accepts=_SECRET_HINT, meaning=_SECRET_FIELD_MEANING.format("caCert", "ca.pem")
    )
    username: Annotated[str | None, checked(lambda v: bool(v) and ":" not in v)] = setting(
        None, accepts="a non-empty user name without ':'", meaning="etcd user; needs `password`"
    )
    password: SecretText | None = setting(None, accepts=_SECRET_HINT, meaning="etcd password, set with `--secret`")

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
        if any(present[name] for name in ("key", "cert", "caCert", "password")) and "datastore" not in secret_roots(
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


class CalicoctlSettings(Section):
    summary: ClassVar[str] = "How calicoctl is run"

    path: Annotated[str, checked(is_non_empty_path)] = setting(
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
    version: Annotated[str | None, checked(is_calico_release)] = setting(
        None,
        accepts='a Calico release such as "v3.31.0"',
        meaning="the calicoctl release this stack runs: the cluster's Calico release (calicoctl's own check refuses "
        "another unless `allowVersionMismatch`). A calicoctl of another release stops the run; the pull-request "
        "workflow installs this one",
        shown_default="unset",
    )
    drift_check: Literal["require", "warn"] = setting(
        "require",
        accepts='"require" or "warn"',
        meaning="what a preview does when calicoctl cannot read a patched resource to check it for drift (calicoctl "
        "missing or of another release, datastore unreachable, timeout): `require` fails it, naming the cause and "
        "what to do; `warn` warns and shows no change, as with `PULUMI_K8S_DELETE_UNREACHABLE` set",
    )
