"""How Calico's metrics are turned on and scraped: Felix, calico-node, Typha and calico-kube-controllers,
the monitors' shared settings (podMonitor) and each component's own, and the check after `pulumi up`
that Prometheus scrapes every target."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, ValidationError, ValidationInfo
from pydantic_core import InitErrorDetails

from builders.values import (
    duration_ms,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_host,
    is_non_empty_path,
    is_port_name,
    is_positive_duration,
    is_prometheus_label,
    is_prometheus_url,
    is_regex,
)
from configuration.connection import SecretText
from configuration.fields import (
    ANNOTATIONS_HINT,
    LABEL_KEY_HINT,
    LABEL_VALUE_HINT,
    LABELS_HINT,
    NAMESPACE_HINT,
    OBJECT_NAME_HINT,
    Annotations,
    Labels,
    as_tuple,
)
from configuration.problems import PROJECT, carried_problem, note_problem, secret_roots, value_problem
from configuration.section import Section, checked, setting

DURATION_HINT = "a Prometheus duration such as 15s, 1m or 1m30s"
_PORT_NAME_HINT = "a port name: at most 15 lowercase letters, digits and single hyphens, with a letter"
_CONTAINER_HINT = "a Kubernetes container name"

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


class RelabelConfig(Section):
    """One prometheus-operator RelabelConfig, as its CRD spells the fields."""

    source_labels: Annotated[
        tuple[Annotated[str, checked(is_prometheus_label)], ...] | None,
        BeforeValidator(as_tuple),
    ] = setting(None, accepts="a list of Prometheus label names", meaning="labels whose values are joined")
    separator: str | None = setting(None, accepts="a string", meaning="what joins the source labels' values")
    target_label: Annotated[str | None, checked(bool)] = setting(
        None, accepts="a label name", meaning="the label a replace or hashmod writes"
    )
    regex: Annotated[str | None, checked(is_regex)] = setting(
        None, accepts="a regular expression", meaning="matched against the joined values"
    )
    modulus: Annotated[int | None, Field(ge=1)] = setting(None, accepts="a whole number from 1", meaning="for hashmod")
    replacement: str | None = setting(None, accepts="a string", meaning="what a replace writes")
    action: Annotated[
        str | None,
        BeforeValidator(lambda v: v.lower() if isinstance(v, str) else v),
        checked(lambda v: v in _RELABEL_ACTIONS),
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
Relabelings = Annotated[tuple[RelabelConfig, ...], BeforeValidator(as_tuple)]
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
    interval: Annotated[str | None, checked(is_positive_duration)] = setting(
        None, accepts=DURATION_HINT, meaning="scrape interval", shown_default="`podMonitor.interval`"
    )
    scrape_timeout: Annotated[str | None, checked(is_positive_duration)] = setting(
        None, accepts=DURATION_HINT, meaning="at most the interval", shown_default="`podMonitor.scrapeTimeout`"
    )
    labels: Labels | None = setting(
        None,
        accepts=LABELS_HINT,
        item=LABEL_VALUE_HINT,
        key=LABEL_KEY_HINT,
        meaning="added to podMonitor's labels on this monitor",
        shown_default="`{}`",
    )
    annotations: Annotations | None = setting(
        None,
        accepts=ANNOTATIONS_HINT,
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
    metrics_host: Annotated[str | None, checked(is_host)] = setting(
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

    namespace: Annotated[str, checked(is_dns1123_label)] = setting(
        "kube-system",
        accepts=NAMESPACE_HINT,
        meaning="where calico-node runs",
        shown_default="`kube-system` (`calico-system` for operator installs)",
    )
    daemon_set: Annotated[str, checked(is_dns1123_subdomain)] = setting(
        "calico-node", accepts="a Kubernetes DaemonSet name", meaning="the DaemonSet"
    )
    container: Annotated[str, checked(is_dns1123_label)] = setting(
        "calico-node", accepts=_CONTAINER_HINT, meaning="the container Felix runs in"
    )
    port_name: Annotated[str, checked(is_port_name)] = setting(
        "http-metrics", accepts=_PORT_NAME_HINT, meaning="the name of the metrics port declared on it (pod scrape)"
    )


class PodMonitorSettings(Section):
    summary: ClassVar[str] = "Settings of every monitor the program creates (PodMonitors and ServiceMonitors)"

    name: Annotated[str, checked(is_dns1123_subdomain)] = setting(
        "felix",
        accepts="a Kubernetes object name (lowercase, digits, '-', '.')",
        meaning="the Felix monitor; the job is `<namespace>/<name>`",
    )
    namespace: Annotated[str, checked(is_dns1123_label)] = setting(
        "monitoring", accepts=NAMESPACE_HINT, meaning="where monitors live"
    )
    interval: Annotated[str, checked(is_positive_duration)] = setting(
        "15s", accepts=DURATION_HINT, meaning="scrape interval"
    )
    scrape_timeout: Annotated[str | None, checked(is_positive_duration)] = setting(
        None, accepts=DURATION_HINT, meaning="at most `interval`"
    )
    path: Annotated[str, checked(lambda v: v.startswith("/") and " " not in v)] = setting(
        "/metrics", accepts="an HTTP path starting with /", meaning="the metrics path"
    )
    labels: Labels = setting(
        (),
        accepts=LABELS_HINT,
        item=LABEL_VALUE_HINT,
        key=LABEL_KEY_HINT,
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
        accepts=ANNOTATIONS_HINT,
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
    namespace: Annotated[str, checked(is_dns1123_label)] = setting(
        accepts=NAMESPACE_HINT,
        meaning="where it runs",
        shown_default="`kube-system` (`calico-system` for operator installs)",
    )
    deployment: Annotated[str, checked(is_dns1123_subdomain)] = setting(
        accepts="a Kubernetes Deployment name", meaning="manifest installs only"
    )
    container: Annotated[str, checked(is_dns1123_label)] = setting(
        accepts=_CONTAINER_HINT, meaning="manifest installs only"
    )
    port_name: Annotated[str, checked(is_port_name)] = setting(
        accepts=_PORT_NAME_HINT, meaning="manifest installs only"
    )
    monitor_name: Annotated[str, checked(is_dns1123_subdomain)] = setting(
        accepts=OBJECT_NAME_HINT, meaning="its monitor; the job is `<podMonitor.namespace>/<monitorName>`"
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
    namespace: Annotated[str, checked(is_dns1123_label)] = setting(
        "kube-system",
        accepts=NAMESPACE_HINT,
        meaning="where it runs",
        shown_default="`kube-system` (`calico-system` for operator installs)",
    )
    deployment: Annotated[str, checked(is_dns1123_subdomain)] = setting(
        "calico-typha", accepts="a Kubernetes Deployment name", meaning="manifest installs only"
    )
    container: Annotated[str, checked(is_dns1123_label)] = setting(
        "calico-typha", accepts=_CONTAINER_HINT, meaning="manifest installs only"
    )
    port_name: Annotated[str, checked(is_port_name)] = setting(
        "http-metrics", accepts=_PORT_NAME_HINT, meaning="manifest installs only"
    )
    monitor_name: Annotated[str, checked(is_dns1123_subdomain)] = setting(
        "calico-typha",
        accepts=OBJECT_NAME_HINT,
        meaning="its monitor; the job is `<podMonitor.namespace>/<monitorName>`",
    )


class KubeControllersSettings(WorkloadSettings):
    summary: ClassVar[str] = "calico-kube-controllers' metrics"

    enabled: bool = setting(True, accepts="true or false", meaning=_W_ENABLED)
    metrics_port: _PORT = setting(9094, accepts=_PORT_HINT, meaning="its metrics port")
    namespace: Annotated[str, checked(is_dns1123_label)] = setting(
        "kube-system",
        accepts=NAMESPACE_HINT,
        meaning="where it runs",
        shown_default="`kube-system` (`calico-system` for operator installs)",
    )
    deployment: Annotated[str, checked(is_dns1123_subdomain)] = setting(
        "calico-kube-controllers", accepts="a Kubernetes Deployment name", meaning="manifest installs only"
    )
    container: Annotated[str, checked(is_dns1123_label)] = setting(
        "calico-kube-controllers", accepts=_CONTAINER_HINT, meaning="manifest installs only"
    )
    port_name: Annotated[str, checked(is_port_name)] = setting(
        "http-metrics", accepts=_PORT_NAME_HINT, meaning="manifest installs only"
    )
    monitor_name: Annotated[str, checked(is_dns1123_subdomain)] = setting(
        "calico-kube-controllers",
        accepts=OBJECT_NAME_HINT,
        meaning="its monitor; the job is `<podMonitor.namespace>/<monitorName>`",
    )


def _port_text(value: Any) -> Any:
    # YAML and `pulumi config set --path …port 9090` store a number: the Service port of that number.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def is_service_port(text: str) -> bool:
    """A Service port as the API server's service proxy takes it: its number or its name."""
    if text.isdigit():
        return not text.startswith("0") and int(text) < 65536
    return is_port_name(text)


def is_service_name(name: str) -> bool:
    """A DNS-1035 label, as Kubernetes requires of Service names."""
    return is_dns1123_label(name) and name[:1].isalpha()


def is_pem_certificates(text: str) -> bool:
    try:
        ssl.create_default_context(cadata=text)
    except (ssl.SSLError, ValueError):
        return False
    return True


class PrometheusServiceSettings(Section):
    """Prometheus' Service, read through the API server's service proxy with the stack's Kubernetes connection."""

    summary: ClassVar[str] = "Prometheus' Service, read through the API server's service proxy"

    namespace: Annotated[str, checked(is_dns1123_label)] = setting(
        accepts=NAMESPACE_HINT, required="the namespace of Prometheus' Service", meaning="the Service's namespace"
    )
    service: Annotated[str, checked(is_service_name)] = setting(
        accepts="a Kubernetes Service name", required="the name of Prometheus' Service", meaning="the Service's name"
    )
    port: Annotated[str, BeforeValidator(_port_text), checked(is_service_port)] = setting(
        accepts="a port of the Service: its number (1 to 65535) or its name",
        required="the Service's port, its number or its name",
        meaning="the Service's port, its number or its name",
    )
    scheme: Literal["http", "https"] | None = setting(
        None,
        accepts='"http" or "https"',
        meaning="`https` for a Prometheus that serves TLS",
        shown_default="`http`",
    )


_URL_ONLY = ("bearerToken", "caCertFile", "caCert")


class VerifySettings(Section):
    """After `pulumi up`, wait until this Prometheus scrapes every target of the stack's monitors."""

    summary: ClassVar[str] = "After `pulumi up`, wait until Prometheus scrapes every target of the stack's monitors"

    prometheus_url: Annotated[str | None, checked(is_prometheus_url)] = setting(
        None,
        accepts="the base URL of the Prometheus that scrapes these monitors, http:// or https:// without user, "
        "query or fragment, such as http://prometheus-operated.monitoring:9090",
        meaning="base URL of the Prometheus that should scrape these monitors, as the machine that runs `pulumi up` "
        "reaches it: `http://` or `https://`, a path prefix allowed, no user, query or fragment (e.g. "
        "`http://localhost:9090` next to `kubectl -n monitoring port-forward svc/prometheus-operated 9090`)",
        shown_default="unset",
    )
    bearer_token: SecretText | None = setting(
        None,
        accepts="a non-empty string, stored encrypted (`--secret`)",
        meaning="sent as `Authorization: Bearer` to an `https://` `prometheusUrl` (an authenticating proxy in "
        "front of Prometheus); set it with `pulumi config set --secret --path calico-monitoring:verify.bearerToken`",
    )
    ca_cert_file: Annotated[str | None, checked(is_non_empty_path)] = setting(
        None,
        accepts="a file path",
        meaning="PEM file of the CA an `https://` `prometheusUrl` is checked against, on the machine that runs "
        "Pulumi (unset: the system's CAs)",
    )
    ca_cert: Annotated[str | None, checked(is_pem_certificates)] = setting(
        None, accepts="PEM certificates", meaning="the same CA as inline PEM, instead of `caCertFile`"
    )
    prometheus: PrometheusServiceSettings | None = setting(
        None,
        accepts="an object {namespace, service, port, scheme?}",
        meaning="instead of `prometheusUrl`: Prometheus' Service, `{namespace, service, port, scheme?}`, read "
        "through the API server's service proxy with the stack's own Kubernetes connection (no port-forward; the "
        "identity needs `get` on `services/proxy`, see `rbac/verify-service-proxy.yaml`); `port` is the Service "
        "port's number or name, `scheme` `https` for a Prometheus that serves TLS (e.g. `{namespace: monitoring, "
        "service: prometheus-operated, port: web}`)",
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

    @classmethod
    def prepare(cls, data: dict[str, Any], info: ValidationInfo) -> tuple[dict[str, Any], list[InitErrorDetails]]:
        raw = data.get("prometheus")
        if not isinstance(raw, Mapping):
            return data, []
        # Validated here, in config mode: this model's own __init__ validates its fields again without the
        # config context, where the Service's problems would be worded with this field's `accepts` text.
        try:
            service = PrometheusServiceSettings.model_validate(raw, context=info.context, by_alias=True, by_name=False)
        except ValidationError as error:
            problems = [carried_problem(e, ("prometheus", *e["loc"])) for e in error.errors()]
            return {**data, "prometheus": PrometheusServiceSettings.model_construct()}, problems
        return {**data, "prometheus": service}, []

    @classmethod
    def checks(cls, data: dict[str, Any], info: ValidationInfo) -> list[InitErrorDetails]:
        url, service = "prometheusUrl" in data, "prometheus" in data
        url_only = [alias for alias in _URL_ONLY if alias in data]
        problems = []
        if not url and not service:
            problems.append(
                note_problem(("prometheusUrl",), "missing; it is required (setting it turns verification on)")
            )
        if url and service:
            problems.append(
                note_problem(
                    (),
                    "set either prometheusUrl (Prometheus at a URL) or prometheus (its Service, through the API "
                    "server's service proxy), not both",
                )
            )
        elif service and url_only:
            names = " and ".join(url_only)
            problems.append(
                note_problem(
                    (),
                    f"{names} go with prometheusUrl only: through prometheus, the API server is reached with the "
                    f"stack's own Kubernetes connection; unset {names} or use prometheusUrl",
                )
            )
        if "caCertFile" in data and "caCert" in data:
            problems.append(note_problem((), "set either caCertFile (a path) or caCert (inline PEM), not both"))
        scheme = urlsplit(data["prometheusUrl"]).scheme if isinstance(data.get("prometheusUrl"), str) else None
        if scheme == "http":
            if "bearerToken" in data:
                problems.append(
                    note_problem(
                        ("bearerToken",),
                        "is sent only to an https:// prometheusUrl (over http:// anyone on the way can read it)",
                    )
                )
            for alias in ("caCertFile", "caCert"):
                if alias in data:
                    problems.append(note_problem((alias,), "checks an https:// prometheusUrl; this one is http://"))
        if "bearerToken" in data and "verify" not in secret_roots(info):
            problems.append(
                note_problem(
                    ("bearerToken",),
                    "must be stored encrypted; set it with "
                    f"`pulumi config set --secret --path {PROJECT}:verify.bearerToken` (value not shown)",
                )
            )
        return problems
