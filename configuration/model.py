"""Stack configuration: the one place that parses and validates it.

``parse_settings`` is pure: it takes the stack's raw config values (as Pulumi hands
them to a program: strings, with objects JSON-encoded) and returns frozen settings,
or raises ``ConfigError`` listing every problem, each naming the key, the value and
what is accepted. Nothing here touches a cluster, so a bad stack fails before any
resource is registered.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlsplit

import yaml

PROJECT = "calico-monitoring"


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


# --- settings models ---------------------------------------------------------


@dataclass(frozen=True)
class KubernetesDatastore:
    """calicoctl talks to the Kubernetes API (Calico's "kubernetes" datastore)."""

    kubeconfig_path: str | None
    kubeconfig_content: Secret | None
    context: str | None
    type: str = "kubernetes"


@dataclass(frozen=True)
class EtcdDatastore:
    """calicoctl talks to etcd v3 directly."""

    endpoints: tuple[str, ...]
    key_file: str | None = None
    cert_file: str | None = None
    ca_cert_file: str | None = None
    key: Secret | None = None
    cert: Secret | None = None
    ca_cert: Secret | None = None
    username: str | None = None
    password: Secret | None = None
    type: str = "etcdv3"


@dataclass(frozen=True)
class CalicoctlSettings:
    path: str = "calicoctl"
    allow_version_mismatch: bool = False
    timeout_seconds: int = 120


INSTALLS = ("manifest", "operator")
SCRAPE_MODES = ("pod", "service")


@dataclass(frozen=True)
class FelixSettings:
    metrics_port: int = 9091
    metrics_host: str | None = None
    go_metrics: bool | None = None
    process_metrics: bool | None = None
    # pod: declare the port on calico-node (one rollout) and use a PodMonitor;
    # service: a headless Service and a ServiceMonitor, nothing restarts.
    scrape: str = "pod"


@dataclass(frozen=True)
class CalicoNodeSettings:
    namespace: str = "kube-system"
    daemon_set: str = "calico-node"
    container: str = "calico-node"
    port_name: str = "http-metrics"


@dataclass(frozen=True)
class PodMonitorSettings:
    name: str = "felix"
    namespace: str = "monitoring"
    interval: str = "15s"
    scrape_timeout: str | None = None
    path: str = "/metrics"
    labels: tuple[tuple[str, str], ...] = ()
    # Keep only the metrics the shipped dashboards, recording rules and alerts read.
    keep_only_used_metrics: bool = False

    @property
    def job(self) -> str:
        """The `job` label prometheus-operator gives targets of this PodMonitor."""
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class WorkloadSettings:
    """Typha or calico-kube-controllers: a Deployment whose metrics this program scrapes."""

    enabled: bool
    metrics_port: int
    namespace: str
    deployment: str
    container: str
    port_name: str
    monitor_name: str


@dataclass(frozen=True)
class AlertSettings:
    enabled: bool = True
    name: str = "calico"
    namespace: str = "monitoring"
    labels: tuple[tuple[str, str], ...] = ()
    runbook_base_url: str | None = None
    # alerts.runbookUrlPattern ({alert}, {anchor}); None: alerts name the shipped docs/runbooks.md section.
    runbook_url_pattern: str | None = None
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Label that tells clusters apart where one Prometheus, Thanos or Mimir sees several.
    cluster_label: str | None = None

    @property
    def runbook_url(self) -> str | None:
        """The runbook URL pattern the rules get: runbookUrlPattern, or runbookBaseUrl#{anchor}."""
        if self.runbook_url_pattern is not None:
            return self.runbook_url_pattern
        return None if self.runbook_base_url is None else self.runbook_base_url.split("#")[0] + "#{anchor}"


@dataclass(frozen=True)
class DashboardSettings:
    enabled: bool = True
    namespace: str = "monitoring"
    datasource: str = "prometheus"
    labels: tuple[tuple[str, str], ...] = (("grafana_dashboard", "1"),)
    folder: str | None = None
    imports: tuple[str, ...] = ()
    # dashboards.clusterLabel (default alerts.clusterLabel): a cluster variable in every query.
    cluster_label: str | None = None
    # dashboards.grafanaUrl: alerts link their dashboard (dashboard_url) under it.
    grafana_url: str | None = None


@dataclass(frozen=True)
class VerifySettings:
    """After `pulumi up`, wait until this Prometheus scrapes every target of the stack's monitors."""

    prometheus_url: str
    timeout_seconds: int = 180


@dataclass(frozen=True)
class KubernetesProviderSettings:
    """The stack's `kubernetes:*` keys, handed to the one explicit provider."""

    kubeconfig_path: str | None = None
    kubeconfig_content: Secret | None = None
    context: str | None = None


@dataclass(frozen=True)
class Settings:
    datastore: KubernetesDatastore | EtcdDatastore
    calicoctl: CalicoctlSettings = field(default_factory=CalicoctlSettings)
    felix: FelixSettings = field(default_factory=FelixSettings)
    calico_node: CalicoNodeSettings = field(default_factory=CalicoNodeSettings)
    pod_monitor: PodMonitorSettings = field(default_factory=PodMonitorSettings)
    kubernetes: KubernetesProviderSettings = field(default_factory=KubernetesProviderSettings)
    install: str = "manifest"
    typha: WorkloadSettings | None = None
    kube_controllers: WorkloadSettings | None = None
    alerts: AlertSettings = field(default_factory=AlertSettings)
    dashboards: DashboardSettings = field(default_factory=DashboardSettings)
    render_yaml_to: str | None = None
    verify: VerifySettings | None = None

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
        jobs = {"felix": self.pod_monitor.job}
        if self.typha is not None and self.typha.enabled:
            jobs["typha"] = self.monitor_job(self.typha.monitor_name)
        if self.kube_controllers is not None and self.kube_controllers.enabled:
            jobs["kube-controllers"] = self.monitor_job(self.kube_controllers.monitor_name)
        return jobs

    @property
    def all_jobs(self) -> dict[str, str]:
        """The job of every Calico component's monitor, scraped by this stack or not (imported dashboards use them)."""
        typha = self.typha.monitor_name if self.typha is not None else "calico-typha"
        controllers = "calico-kube-controllers"
        if self.kube_controllers is not None:
            controllers = self.kube_controllers.monitor_name
        return {
            "felix": self.pod_monitor.job,
            "typha": self.monitor_job(typha),
            "kube-controllers": self.monitor_job(controllers),
        }


# --- validation helpers ------------------------------------------------------

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


def _show(value: Any) -> str:
    """How a bad value is quoted in an error message."""
    if isinstance(value, Secret):
        return "[secret]"
    return json.dumps(value, ensure_ascii=False)


class _Section:
    """Reads one object-valued key, recording problems instead of stopping at the first."""

    def __init__(self, key: str, raw: Mapping[str, Any], problems: list[str], secret: bool = False) -> None:
        self.key = key
        self.raw = raw
        self.problems = problems
        self.secret = secret
        self.used: set[str] = set()

    def problem(self, field_name: str | None, value: Any, accepted: str) -> None:
        name = f"{self.key}.{field_name}" if field_name else self.key
        shown = "[secret]" if self.secret else _show(value)
        self.problems.append(f"{name}: got {shown}; expected {accepted}")

    def get(self, name: str, default: Any = None) -> Any:
        self.used.add(name)
        return self.raw.get(name, default)

    def string(self, name: str, default: str | None, check: Callable[[str], bool], accepted: str) -> str | None:
        self.used.add(name)
        if name not in self.raw:
            return default
        value = self.raw[name]
        if not isinstance(value, str) or not check(value):
            self.problem(name, value, accepted)
            return default
        return value

    def boolean(self, name: str, default: bool | None) -> bool | None:
        self.used.add(name)
        if name not in self.raw:
            return default
        value = self.raw[name]
        if not isinstance(value, bool):
            self.problem(name, value, "true or false")
            return default
        return value

    def whole_number(self, name: str, default: int, low: int, high: int) -> int:
        self.used.add(name)
        if name not in self.raw:
            return default
        value = self.raw[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problem(name, value, f"a whole number from {low} to {high}")
            return default
        return value

    def port(self, name: str, default: int) -> int:
        self.used.add(name)
        if name not in self.raw:
            return default
        value = self.raw[name]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            self.problem(name, value, "a port number from 1 to 65535")
            return default
        return value

    def namespace(self, default: str) -> str:
        return self.string("namespace", default, is_dns1123_label, "a Kubernetes namespace name")

    def secret_string(self, name: str) -> Secret | None:
        self.used.add(name)
        if name not in self.raw:
            return None
        value = self.raw[name]
        if not isinstance(value, str) or not value.strip():
            self.problems.append(f"{self.key}.{name}: expected a non-empty string (value not shown: it is secret)")
            return None
        return Secret(value)

    def reject_unknown(self, allowed: Collection[str] | None = None) -> None:
        known = set(allowed) if allowed is not None else self.used
        for name in sorted(set(self.raw) - known):
            self.problems.append(
                f"{self.key}.{name}: unknown setting; accepted settings are {', '.join(sorted(known))}"
            )


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
    if not isinstance(value, str) or "," in value or any(c.isspace() for c in value):
        return False
    parts = _http_url(value)
    return parts is not None and parts.path in ("", "/") and not parts.query and not parts.fragment


# --- parsing -----------------------------------------------------------------

_OBJECT_KEYS = (
    "datastore",
    "calicoctl",
    "felix",
    "calicoNode",
    "podMonitor",
    "typha",
    "kubeControllers",
    "alerts",
    "dashboards",
    "verify",
)
_STRING_KEYS = ("install", "renderYamlTo")


def parse_settings(values: Mapping[str, Any], secret_keys: Collection[str] = ()) -> Settings:
    """Build Settings from raw stack config, or raise ConfigError listing every problem.

    ``values`` maps full config keys (``calico-monitoring:datastore``,
    ``kubernetes:context``) to what Pulumi hands the program: plain strings, with
    object values JSON-encoded. Already-decoded objects are accepted too.
    ``secret_keys`` names the keys that were set with ``--secret``.
    """
    problems: list[str] = []
    prefix = f"{PROJECT}:"
    known = {prefix + key for key in (*_OBJECT_KEYS, *_STRING_KEYS)}
    for key in sorted(k for k in values if k.startswith(prefix) and k not in known):
        problems.append(f"{key}: unknown setting; accepted settings are {', '.join(sorted(known))}")

    def section(name: str, required: bool = False) -> _Section:
        key = prefix + name
        raw = values.get(key)
        secret = key in secret_keys
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError:
                problems.append(
                    f"{key}: expected an object (set it with `pulumi config set --path {key}.<field> <value>`)"
                    + ("" if secret else f"; got {_show(raw)}")
                )
                raw = {}
        if raw is None:
            if required:
                problems.append(f"{key}: missing; it is required (an object with at least `type`)")
            raw = {}
        if not isinstance(raw, Mapping):
            problems.append(f"{key}: expected an object; got {'[secret]' if secret else _show(raw)}")
            raw = {}
        return _Section(key, raw, problems, secret=secret)

    install = values.get(prefix + "install", "manifest")
    if install not in INSTALLS:
        problems.append(f'{prefix}install: got {_show(install)}; expected "manifest" or "operator"')
        install = "manifest"
    operator = install == "operator"
    calico_namespace = "calico-system" if operator else "kube-system"

    provider = _parse_kubernetes_provider(values, secret_keys, problems)
    datastore = _parse_datastore(section("datastore", required=True), provider, problems)
    calicoctl = _parse_calicoctl(section("calicoctl"))
    felix = _parse_felix(section("felix"), operator)
    calico_node = _parse_calico_node(section("calicoNode"), calico_namespace)
    pod_monitor = _parse_pod_monitor(section("podMonitor"))
    typha = _parse_workload(
        section("typha"),
        WorkloadSettings(
            operator, 9093, calico_namespace, "calico-typha", "calico-typha", "http-metrics", "calico-typha"
        ),
    )
    kube_controllers = _parse_workload(
        section("kubeControllers"),
        WorkloadSettings(
            True,
            9094,
            calico_namespace,
            "calico-kube-controllers",
            "calico-kube-controllers",
            "http-metrics",
            "calico-kube-controllers",
        ),
    )
    alerts = _parse_alerts(section("alerts"), pod_monitor)
    dashboards = _parse_dashboards(section("dashboards"), alerts)
    verify = _parse_verify(section("verify"))
    render_yaml_to = values.get(prefix + "renderYamlTo") or None  # Pulumi.yaml's default is ""
    if render_yaml_to is not None and (not isinstance(render_yaml_to, str) or not _non_empty_path(render_yaml_to)):
        problems.append(f"{prefix}renderYamlTo: got {_show(render_yaml_to)}; expected a directory path")
        render_yaml_to = None
    if render_yaml_to is not None:
        # A rendered manifest is applied whole by Argo CD or Flux; a patch of an object
        # someone else owns cannot be expressed that way.
        if felix.scrape == "pod":
            problems.append(
                f'{prefix}renderYamlTo: with felix.scrape "pod" this program would patch calico-node, '
                f'which cannot be rendered as a manifest; set {prefix}felix.scrape to "service"'
            )
        if typha.enabled:
            problems.append(
                f"{prefix}renderYamlTo: Typha's metrics are turned on by patching "
                f"{'the Installation' if operator else 'the calico-typha Deployment'}, which cannot be rendered; "
                f"set {prefix}typha.enabled to false and enable them in your Calico manifests"
            )
    if render_yaml_to is not None and verify is not None:
        problems.append(
            f"{prefix}verify: cannot be used with renderYamlTo: render mode talks to no cluster and applies "
            f"nothing, so there are no targets to check; unset {prefix}verify or {prefix}renderYamlTo"
        )
    monitor_names = [pod_monitor.name]
    monitor_names += [w.monitor_name for w in (typha, kube_controllers) if w.enabled]
    if len(set(monitor_names)) != len(monitor_names):
        problems.append(
            f"{prefix}podMonitor.name, typha.monitorName and kubeControllers.monitorName must differ; "
            f"got {_show(monitor_names)}"
        )

    if problems:
        raise ConfigError("invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems))
    return Settings(
        datastore=datastore,
        calicoctl=calicoctl,
        felix=felix,
        calico_node=calico_node,
        pod_monitor=pod_monitor,
        kubernetes=provider,
        install=install,
        typha=typha,
        kube_controllers=kube_controllers,
        alerts=alerts,
        dashboards=dashboards,
        render_yaml_to=render_yaml_to,
        verify=verify,
    )


def looks_like_kubeconfig_content(value: str) -> bool:
    """`kubernetes:kubeconfig` may hold a path or the kubeconfig document itself."""
    stripped = value.lstrip()
    return "\n" in value.strip() or stripped.startswith(("{", "apiVersion:", "kind:", "clusters:"))


def _parse_kubernetes_provider(
    values: Mapping[str, Any], secret_keys: Collection[str], problems: list[str]
) -> KubernetesProviderSettings:
    kubeconfig = values.get("kubernetes:kubeconfig")
    context = values.get("kubernetes:context")
    path = content = None
    if kubeconfig is not None:
        if not isinstance(kubeconfig, str) or not _non_empty_path(kubeconfig):
            problems.append("kubernetes:kubeconfig: expected a kubeconfig file path or the kubeconfig text itself")
        elif looks_like_kubeconfig_content(kubeconfig):
            content = Secret(kubeconfig)
        else:
            path = kubeconfig
    if context is not None and (not isinstance(context, str) or not context):
        problems.append(f"kubernetes:context: got {_show(context)}; expected the name of a kubeconfig context")
        context = None
    return KubernetesProviderSettings(kubeconfig_path=path, kubeconfig_content=content, context=context)


def _current_context_of(content: Secret) -> str | None:
    try:
        document = yaml.safe_load(content.reveal())
    except yaml.YAMLError:
        return None
    if isinstance(document, Mapping) and isinstance(document.get("current-context"), str):
        return document["current-context"] or None
    return None


def _parse_datastore(
    s: _Section, provider: KubernetesProviderSettings, problems: list[str]
) -> KubernetesDatastore | EtcdDatastore:
    kind = s.get("type")
    if kind == "kubernetes":
        return _parse_kubernetes_datastore(s, provider, problems)
    if kind == "etcdv3":
        return _parse_etcd_datastore(s, problems)
    if s.raw:  # a missing datastore was already reported
        s.problem("type", kind, '"kubernetes" or "etcdv3"')
    return KubernetesDatastore(kubeconfig_path=None, kubeconfig_content=None, context=None)


def _parse_kubernetes_datastore(
    s: _Section, provider: KubernetesProviderSettings, problems: list[str]
) -> KubernetesDatastore:
    own_path = s.string("kubeconfig", None, _non_empty_path, "a kubeconfig file path")
    own_context = s.string("context", None, bool, "the name of a kubeconfig context")
    s.reject_unknown(("type", "kubeconfig", "context"))
    if own_path is not None:
        path, content = own_path, None
        context = own_context or (provider.context if own_path == provider.kubeconfig_path else None)
    else:
        path, content = provider.kubeconfig_path, provider.kubeconfig_content
        context = own_context or provider.context
        if context is None and content is not None:
            context = _current_context_of(content)
    if context is None:
        problems.append(
            f"{s.key}: calicoctl would use whatever kubectl context is current on the machine running "
            "`pulumi up`; pin it with `pulumi config set kubernetes:context <context>` (the Kubernetes "
            f"provider uses it too) or `pulumi config set --path {s.key}.context <context>`"
        )
    return KubernetesDatastore(kubeconfig_path=path, kubeconfig_content=content, context=context)


def _parse_etcd_datastore(s: _Section, problems: list[str]) -> EtcdDatastore:
    raw_endpoints = s.get("endpoints")
    endpoints: tuple[str, ...] = ()
    accepted = "a non-empty list of http:// or https:// URLs such as https://10.0.0.1:2379"
    if not isinstance(raw_endpoints, list) or not raw_endpoints:
        s.problem("endpoints", raw_endpoints, accepted)
    else:
        for i, endpoint in enumerate(raw_endpoints):
            if not _is_etcd_endpoint(endpoint):
                s.problem(f"endpoints[{i}]", endpoint, accepted)
        endpoints = tuple(raw_endpoints)
        if len(set(endpoints)) != len(endpoints):
            s.problem("endpoints", raw_endpoints, "each endpoint listed once")

    files = {
        name: s.string(name, None, _non_empty_path, "a file path") for name in ("keyFile", "certFile", "caCertFile")
    }
    inline = {name: s.secret_string(name) for name in ("key", "cert", "caCert")}
    username = s.string("username", None, lambda v: bool(v) and ":" not in v, "a non-empty user name without ':'")
    password = s.secret_string("password")
    s.reject_unknown()

    for file_name, inline_name in (("keyFile", "key"), ("certFile", "cert"), ("caCertFile", "caCert")):
        if files[file_name] is not None and inline[inline_name] is not None:
            problems.append(f"{s.key}: set either {file_name} (a path) or {inline_name} (inline PEM), not both")
    has_key = files["keyFile"] is not None or inline["key"] is not None
    has_cert = files["certFile"] is not None or inline["cert"] is not None
    if has_key != has_cert:
        problems.append(
            f"{s.key}: a client key needs its certificate and a certificate needs its key; "
            "set both keyFile and certFile (or key and cert), or neither"
        )
    if (username is None) != (password is None):
        problems.append(f"{s.key}: username and password go together; set both or neither")
    if any(v is not None for v in (*inline.values(), password)) and not s.secret:
        problems.append(
            f"{s.key}: inline key, cert, caCert and password must be stored encrypted; set them with "
            f"`pulumi config set --secret --path {s.key}.<field>` (value not shown)"
        )
    return EtcdDatastore(
        endpoints=endpoints,
        key_file=files["keyFile"],
        cert_file=files["certFile"],
        ca_cert_file=files["caCertFile"],
        key=inline["key"],
        cert=inline["cert"],
        ca_cert=inline["caCert"],
        username=username,
        password=password,
    )


def _parse_calicoctl(s: _Section) -> CalicoctlSettings:
    defaults = CalicoctlSettings()
    result = CalicoctlSettings(
        path=s.string("path", defaults.path, _non_empty_path, "the calicoctl executable: a name on PATH or a path"),
        allow_version_mismatch=s.boolean("allowVersionMismatch", defaults.allow_version_mismatch),
        timeout_seconds=s.whole_number("timeoutSeconds", defaults.timeout_seconds, 5, 3600),
    )
    s.reject_unknown()
    return result


def _parse_felix(s: _Section, operator: bool) -> FelixSettings:
    scrape = s.string("scrape", "service" if operator else "pod", lambda v: v in SCRAPE_MODES, '"pod" or "service"')
    if operator and scrape == "pod":
        s.problem(
            "scrape",
            scrape,
            '"service" with install: operator (the operator reverts any port added to calico-node)',
        )
        scrape = "service"
    result = FelixSettings(
        metrics_port=s.port("metricsPort", FelixSettings.metrics_port),
        metrics_host=s.string("metricsHost", None, _is_host, "an IP address or host name for Felix to listen on"),
        go_metrics=s.boolean("goMetrics", None),
        process_metrics=s.boolean("processMetrics", None),
        scrape=scrape,
    )
    s.reject_unknown()
    return result


def _parse_calico_node(s: _Section, namespace: str) -> CalicoNodeSettings:
    d = CalicoNodeSettings(namespace=namespace)
    result = CalicoNodeSettings(
        namespace=s.namespace(d.namespace),
        daemon_set=s.string("daemonSet", d.daemon_set, is_dns1123_subdomain, "a Kubernetes DaemonSet name"),
        container=s.string("container", d.container, is_dns1123_label, "a Kubernetes container name"),
        port_name=s.string(
            "portName",
            d.port_name,
            is_port_name,
            _PORT_NAME_HINT,
        ),
    )
    s.reject_unknown()
    return result


def _parse_pod_monitor(s: _Section) -> PodMonitorSettings:
    d = PodMonitorSettings()
    positive = lambda v: (duration_ms(v) or 0) > 0  # noqa: E731
    interval = s.string("interval", d.interval, positive, DURATION_HINT)
    timeout = s.string("scrapeTimeout", None, positive, DURATION_HINT)
    if timeout is not None and interval is not None and duration_ms(timeout) > duration_ms(interval):
        s.problem("scrapeTimeout", timeout, f"at most the scrape interval ({interval})")
    labels = _parse_labels(s, "labels")
    result = PodMonitorSettings(
        name=s.string("name", d.name, is_dns1123_subdomain, "a Kubernetes object name (lowercase, digits, '-', '.')"),
        namespace=s.namespace(d.namespace),
        interval=interval,
        scrape_timeout=timeout,
        path=s.string("path", d.path, lambda v: v.startswith("/") and " " not in v, "an HTTP path starting with /"),
        labels=labels,
        keep_only_used_metrics=s.boolean("keepOnlyUsedMetrics", d.keep_only_used_metrics),
    )
    s.reject_unknown()
    return result


def _parse_workload(s: _Section, d: WorkloadSettings) -> WorkloadSettings:
    result = WorkloadSettings(
        enabled=s.boolean("enabled", d.enabled),
        metrics_port=s.port("metricsPort", d.metrics_port),
        namespace=s.namespace(d.namespace),
        deployment=s.string("deployment", d.deployment, is_dns1123_subdomain, "a Kubernetes Deployment name"),
        container=s.string("container", d.container, is_dns1123_label, "a Kubernetes container name"),
        port_name=s.string("portName", d.port_name, is_port_name, _PORT_NAME_HINT),
        monitor_name=s.string("monitorName", d.monitor_name, is_dns1123_subdomain, "a Kubernetes object name"),
    )
    s.reject_unknown()
    return result


def _parse_alerts(s: _Section, pod_monitor: PodMonitorSettings) -> AlertSettings:
    from alerts import is_label_name, is_runbook_url_pattern, validate_overrides

    labels = _parse_labels(s, "labels") if "labels" in s.raw else pod_monitor.labels
    overrides = s.get("overrides", {})
    try:
        validate_overrides(overrides)
    except ValueError as error:
        s.problems.append(str(error))
        overrides = {}
    result = AlertSettings(
        enabled=s.boolean("enabled", True),
        name=s.string("name", "calico", is_dns1123_subdomain, "a Kubernetes object name"),
        namespace=s.namespace(pod_monitor.namespace),
        labels=labels,
        runbook_base_url=s.string(
            "runbookBaseUrl",
            None,
            lambda v: urlsplit(v).scheme in ("http", "https") and bool(urlsplit(v).netloc),
            "an http(s) URL of the runbook page",
        ),
        runbook_url_pattern=s.string(
            "runbookUrlPattern",
            None,
            is_runbook_url_pattern,
            "an http(s) URL with {alert} (the alert name) or {anchor} (its section anchor, the name in lower "
            "case), nothing else in braces",
        ),
        overrides=overrides,
        cluster_label=s.string(
            "clusterLabel", None, is_label_name, "a Prometheus label name such as cluster (not starting with __)"
        ),
    )
    if result.runbook_base_url is not None and result.runbook_url_pattern is not None:
        s.problems.append(f"{s.key}: set runbookUrlPattern or runbookBaseUrl, not both")
    s.reject_unknown()
    return result


def _parse_dashboards(s: _Section, alerts: AlertSettings) -> DashboardSettings:
    from alerts import is_label_name

    d = DashboardSettings()
    labels = _parse_labels(s, "labels") if "labels" in s.raw else d.labels
    imports = s.get("import", [])
    if not isinstance(imports, list) or not all(isinstance(p, str) and _non_empty_path(p) for p in imports):
        s.problem("import", imports, "a list of dashboard file paths (*.json or a ConfigMap YAML)")
        imports = []
    result = DashboardSettings(
        enabled=s.boolean("enabled", d.enabled),
        namespace=s.namespace(d.namespace),
        datasource=s.string(
            "datasource",
            d.datasource,
            lambda v: re.fullmatch(r"[A-Za-z0-9._-]{1,40}", v) is not None,
            "a Grafana datasource uid (letters, digits, '.', '_', '-'; at most 40)",
        ),
        labels=labels,
        folder=s.string("folder", None, lambda v: bool(v.strip()) and "\n" not in v, "a Grafana folder name"),
        imports=tuple(imports),
        cluster_label=s.string(
            "clusterLabel",
            alerts.cluster_label,
            is_label_name,
            "a Prometheus label name such as cluster (not starting with __)",
        ),
        grafana_url=s.string(
            "grafanaUrl",
            None,
            lambda v: _http_url(v) is not None and "?" not in v and "#" not in v,
            "an http(s) URL without user, query or fragment",
        ),
    )
    s.reject_unknown()
    return result


def _is_prometheus_url(value: str) -> bool:
    return (
        _http_url(value) is not None
        and "?" not in value  # no query, not even an empty one
        and "#" not in value
        and not any(c.isspace() for c in value)
    )


def _parse_verify(s: _Section) -> VerifySettings | None:
    url = s.string(
        "prometheusUrl",
        None,
        _is_prometheus_url,
        "the base URL of the Prometheus that scrapes these monitors, http:// or https:// without user, query "
        "or fragment, such as http://prometheus-operated.monitoring:9090",
    )
    timeout = s.whole_number("timeoutSeconds", VerifySettings.timeout_seconds, 10, 3600)
    s.reject_unknown()
    if "prometheusUrl" not in s.raw:
        if s.raw:
            s.problems.append(f"{s.key}.prometheusUrl: missing; it is required (setting it turns verification on)")
        return None
    return VerifySettings(prometheus_url=url, timeout_seconds=timeout) if url is not None else None


def _parse_labels(s: _Section, name: str) -> tuple[tuple[str, str], ...]:
    raw = s.get(name, {})
    if not isinstance(raw, Mapping):
        s.problem(name, raw, "a map of Kubernetes label names to string values")
        return ()
    labels = []
    for key in sorted(raw):
        value = raw[key]
        # `pulumi config set --path …labels.x 1` stores a number (and true a boolean): the user meant text.
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int):
            value = str(value)
        if not is_label_key(key):
            s.problem(f"{name}.{key}", key, "a Kubernetes label name such as release or app.kubernetes.io/part-of")
        elif not isinstance(value, str) or not is_label_value(value):
            s.problem(f"{name}.{key}", value, "a label value: at most 63 letters, digits, '-', '_' or '.'")
        else:
            labels.append((key, value))
    return tuple(labels)
