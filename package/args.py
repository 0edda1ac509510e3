"""CalicoMonitoring's Args (generated from configuration/model.py by `python -m package.generate --write`;
do not edit by hand)."""

# ruff: noqa: E501

from enum import StrEnum
from typing import NotRequired, TypedDict

import pulumi


class CalicoMonitoringInstall(StrEnum):
    MANIFEST = "manifest"
    OPERATOR = "operator"


class DatastoreType(StrEnum):
    KUBERNETES = "kubernetes"
    ETCDV3 = "etcdv3"


class CalicoctlDriftCheck(StrEnum):
    REQUIRE = "require"
    WARN = "warn"


class FelixScrape(StrEnum):
    POD = "pod"
    SERVICE = "service"


class AlertOverrideSeverity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class CalicoMonitoringPrometheusSelection(StrEnum):
    REQUIRE = "require"
    WARN = "warn"
    OFF = "off"


class PrometheusServiceScheme(StrEnum):
    HTTP = "http"
    HTTPS = "https"


class DatastoreSettings(TypedDict):
    """The Calico datastore calicoctl talks to; `type` says which of the keys apply: kubernetes: calicoctl uses the Kubernetes API, with the same kubeconfig and context as the provider; etcdv3: calicoctl talks to etcd v3 directly"""

    type: DatastoreType
    """Which datastore: `kubernetes` or `etcdv3`."""
    kubeconfig: NotRequired[str]
    """kubeconfig path for calicoctl only; needs `context`. Default: the provider's."""
    context: NotRequired[str]
    """kubeconfig context for calicoctl. Default: `kubernetes:context`."""
    endpoints: NotRequired[list[str]]
    """non-empty list of `http://` or `https://` URLs."""
    key_file: NotRequired[str]
    """client key file on the machine that runs Pulumi (as in the tutorial)"""
    cert_file: NotRequired[str]
    """client certificate file."""
    ca_cert_file: NotRequired[str]
    """CA certificate file."""
    key: NotRequired[pulumi.Input[str]]
    """inline PEM, set with `pulumi config set --secret --path calico-monitoring:datastore.key < key.pem`. Pass it as a secret."""
    cert: NotRequired[pulumi.Input[str]]
    """inline PEM, set with `pulumi config set --secret --path calico-monitoring:datastore.cert < cert.pem`. Pass it as a secret."""
    ca_cert: NotRequired[pulumi.Input[str]]
    """inline PEM, set with `pulumi config set --secret --path calico-monitoring:datastore.caCert < ca.pem`. Pass it as a secret."""
    username: NotRequired[str]
    """etcd user; needs `password`."""
    password: NotRequired[pulumi.Input[str]]
    """etcd password, set with `--secret`. Pass it as a secret."""


class CalicoctlSettings(TypedDict):
    """How calicoctl is run"""

    path: NotRequired[str]
    """the executable, on `PATH` or a path. Default: "calicoctl"."""
    allow_version_mismatch: NotRequired[bool]
    """pass `--allow-version-mismatch` to every call. Default: false."""
    timeout_seconds: NotRequired[int]
    """stop a calicoctl call after this long (5 to 3600); calicoctl keeps retrying an unreachable datastore. Default: 120."""
    version: NotRequired[str]
    """the calicoctl release this stack runs: the cluster's Calico release (calicoctl's own check refuses another unless `allowVersionMismatch`). A calicoctl of another release stops the run; the pull-request workflow installs this one. Default: unset."""
    drift_check: NotRequired[CalicoctlDriftCheck]
    """what a preview does when calicoctl cannot read a patched resource to check it for drift (calicoctl missing or of another release, datastore unreachable, timeout): `require` fails it, naming the cause and what to do; `warn` warns and shows no change, as with `PULUMI_K8S_DELETE_UNREACHABLE` set. Default: "require"."""


class RelabelConfig(TypedDict):
    """One prometheus-operator RelabelConfig, as its CRD spells the fields."""

    source_labels: NotRequired[list[str]]
    """labels whose values are joined."""
    separator: NotRequired[str]
    """what joins the source labels' values."""
    target_label: NotRequired[str]
    """the label a replace or hashmod writes."""
    regex: NotRequired[str]
    """matched against the joined values."""
    modulus: NotRequired[int]
    """for hashmod."""
    replacement: NotRequired[str]
    """what a replace writes."""
    action: NotRequired[str]
    """what to do (default replace)"""


class MonitorSettings(TypedDict):
    """This component's monitor; unset settings follow podMonitor"""

    enabled: NotRequired[bool]
    """false: the metrics are still turned on, but this stack creates no monitor for them and leaves the component out of its dashboards, alerts and verification (for a scrape set up elsewhere) Default: `true`."""
    interval: NotRequired[str]
    """scrape interval. Default: `podMonitor.interval`."""
    scrape_timeout: NotRequired[str]
    """at most the interval. Default: `podMonitor.scrapeTimeout`."""
    labels: NotRequired[dict[str, str]]
    """added to podMonitor's labels on this monitor. Default: `{}`."""
    annotations: NotRequired[dict[str, str]]
    """added to podMonitor's annotations on this monitor. Default: `{}`."""
    relabelings: NotRequired[list[RelabelConfig]]
    """relabelings after the program's own (job, node) Default: `podMonitor.relabelings`."""
    metric_relabelings: NotRequired[list[RelabelConfig]]
    """applied to scraped samples, before keepOnlyUsedMetrics' filter. Default: `podMonitor.metricRelabelings`."""
    honor_labels: NotRequired[bool]
    """keep the target's labels on conflict. Default: `podMonitor.honorLabels`."""
    sample_limit: NotRequired[int]
    """the scrape fails when a target exposes more samples. Default: `podMonitor.sampleLimit`."""


class FelixSettings(TypedDict):
    """Felix's Prometheus metrics (FelixConfiguration) and how they are scraped"""

    metrics_port: NotRequired[int]
    """`prometheusMetricsPort`. Default: 9091."""
    metrics_host: NotRequired[str]
    """`prometheusMetricsHost` (left alone when unset)"""
    go_metrics: NotRequired[bool]
    """`prometheusGoMetricsEnabled` (left alone when unset)"""
    process_metrics: NotRequired[bool]
    """`prometheusProcessMetricsEnabled` (left alone when unset)"""
    scrape: NotRequired[FelixScrape]
    """`pod`: a PodMonitor on a port declared on calico-node; `service`: a headless Service and a ServiceMonitor, nothing restarts. Default: `pod` (`service` for operator installs)."""
    monitor: NotRequired[MonitorSettings]
    """Felix's monitor: `enabled`, `interval`, `scrapeTimeout`, `labels`, `annotations`, `relabelings`, `metricRelabelings`, `honorLabels`, `sampleLimit` (each unset one follows `podMonitor`) Default: `{}`."""


class CalicoNodeSettings(TypedDict):
    """The calico-node DaemonSet"""

    namespace: NotRequired[str]
    """where calico-node runs. Default: `kube-system` (`calico-system` for operator installs)."""
    daemon_set: NotRequired[str]
    """the DaemonSet. Default: "calico-node"."""
    container: NotRequired[str]
    """the container Felix runs in. Default: "calico-node"."""
    port_name: NotRequired[str]
    """the name of the metrics port declared on it (pod scrape) Default: "http-metrics"."""


class PodMonitorSettings(TypedDict):
    """Settings of every monitor the program creates (PodMonitors and ServiceMonitors)"""

    name: NotRequired[str]
    """the Felix monitor; the job is `<namespace>/<name>`. Default: "felix"."""
    namespace: NotRequired[str]
    """where monitors live. Default: "monitoring"."""
    interval: NotRequired[str]
    """scrape interval. Default: "15s"."""
    scrape_timeout: NotRequired[str]
    """at most `interval`."""
    path: NotRequired[str]
    """the metrics path. Default: "/metrics"."""
    labels: NotRequired[dict[str, str]]
    """added to every monitor, e.g. `release: kube-prometheus-stack`. Default: `{}`."""
    keep_only_used_metrics: NotRequired[bool]
    """store only the metrics the shipped dashboards, recording rules and alerts read (see [Prometheus cost](#prometheus-cost)) Default: false."""
    annotations: NotRequired[dict[str, str]]
    """added to every monitor. Default: `{}`."""
    relabelings: NotRequired[list[RelabelConfig]]
    """relabelings after the program's own (job, node) Default: `[]`."""
    metric_relabelings: NotRequired[list[RelabelConfig]]
    """applied to scraped samples, before keepOnlyUsedMetrics' filter. Default: `[]`."""
    honor_labels: NotRequired[bool]
    """keep the target's labels on conflict. Default: false."""
    sample_limit: NotRequired[int]
    """the scrape fails when a target exposes more samples."""


class TyphaSettings(TypedDict):
    """Typha's metrics (the calico-typha Deployment)"""

    enabled: NotRequired[bool]
    """scrape it: its monitor (and, for manifest installs, its metrics turned on and its port declared) Default: `false` (`true` for operator installs)."""
    metrics_port: NotRequired[int]
    """its metrics port. Default: 9093."""
    namespace: NotRequired[str]
    """where it runs. Default: `kube-system` (`calico-system` for operator installs)."""
    deployment: NotRequired[str]
    """manifest installs only. Default: "calico-typha"."""
    container: NotRequired[str]
    """manifest installs only. Default: "calico-typha"."""
    port_name: NotRequired[str]
    """manifest installs only. Default: "http-metrics"."""
    monitor_name: NotRequired[str]
    """its monitor; the job is `<podMonitor.namespace>/<monitorName>`. Default: "calico-typha"."""
    monitor: NotRequired[MonitorSettings]
    """its monitor: `enabled`, `interval`, `scrapeTimeout`, `labels`, `annotations`, `relabelings`, `metricRelabelings`, `honorLabels`, `sampleLimit` (each unset one follows `podMonitor`) Default: `{}`."""


class KubeControllersSettings(TypedDict):
    """calico-kube-controllers' metrics"""

    enabled: NotRequired[bool]
    """scrape it: its monitor (and, for manifest installs, its metrics turned on and its port declared) Default: true."""
    metrics_port: NotRequired[int]
    """its metrics port. Default: 9094."""
    namespace: NotRequired[str]
    """where it runs. Default: `kube-system` (`calico-system` for operator installs)."""
    deployment: NotRequired[str]
    """manifest installs only. Default: "calico-kube-controllers"."""
    container: NotRequired[str]
    """manifest installs only. Default: "calico-kube-controllers"."""
    port_name: NotRequired[str]
    """manifest installs only. Default: "http-metrics"."""
    monitor_name: NotRequired[str]
    """its monitor; the job is `<podMonitor.namespace>/<monitorName>`. Default: "calico-kube-controllers"."""
    monitor: NotRequired[MonitorSettings]
    """its monitor: `enabled`, `interval`, `scrapeTimeout`, `labels`, `annotations`, `relabelings`, `metricRelabelings`, `honorLabels`, `sampleLimit` (each unset one follows `podMonitor`) Default: `{}`."""


class AlertOverride(TypedDict):
    """What a stack may change about one shipped alert."""

    enabled: NotRequired[bool]
    """false drops the alert."""
    for_: NotRequired[str]
    """how long the condition holds before it fires."""
    severity: NotRequired[AlertOverrideSeverity]
    """the severity label."""
    threshold: NotRequired[float]
    """where the alert has one."""


class AlertSettings(TypedDict):
    """The PrometheusRule: recording rules, alerts and their overrides"""

    enabled: NotRequired[bool]
    """the alerting rules; when false the PrometheusRule keeps only the recording rules the dashboards query (and is not created when dashboards are off too) Default: true."""
    name: NotRequired[str]
    """PrometheusRule name. Default: "calico"."""
    namespace: NotRequired[str]
    """where the PrometheusRule goes. Default: `podMonitor.namespace`."""
    labels: NotRequired[dict[str, str]]
    """so the Prometheus `ruleSelector` picks it up. Default: `podMonitor.labels`."""
    runbook_base_url: NotRequired[str]
    """your copy of `docs/runbooks.md`; each alert links `<url>#<its name in lower case>` (the same as `runbookUrlPattern: <url>#{anchor}`)"""
    runbook_url_pattern: NotRequired[str]
    """each alert's `runbook_url`; unset, alerts name their section of the shipped `docs/runbooks.md` in a `runbook` annotation instead of linking a page that may not exist."""
    overrides: NotRequired[dict[str, AlertOverride]]
    """per alert: `enabled`, `for`, `severity` (`critical`, `warning`, `info`), `threshold` where the alert has one. Default: `{}`."""
    cluster_label: NotRequired[str]
    """a label such as `cluster` that tells clusters apart where one Prometheus, Thanos or Mimir sees several; every aggregation and join in the rules keeps it."""
    rule_labels: NotRequired[dict[str, str]]
    """added to every alert's labels (say `team`, for Alertmanager routing); `severity` stays the alert's. Default: `{}`."""
    rule_annotations: NotRequired[dict[str, str]]
    """added to every alert's annotations; the ones the program writes (`summary`, `description`, `runbook`, `runbook_url`, `dashboard_url`) stay its own. Default: `{}`."""


class DashboardSettings(TypedDict):
    """The Grafana dashboards, as ConfigMaps for Grafana's sidecar"""

    enabled: NotRequired[bool]
    """ship the dashboards. Default: true."""
    namespace: NotRequired[str]
    """where the ConfigMaps go (the sidecar must watch it) Default: "monitoring"."""
    datasource: NotRequired[str]
    """uid of the Grafana Prometheus datasource (kube-prometheus-stack's is `prometheus`) Default: "prometheus"."""
    labels: NotRequired[dict[str, str]]
    """replaces the default when set. Default: `{grafana_dashboard: "1"}`."""
    annotations: NotRequired[dict[str, str]]
    """added to every dashboard ConfigMap (say your sidecar's folder annotation); `folder` sets `grafana_folder`. Default: `{}`."""
    folder: NotRequired[str]
    """Grafana folder, as the `grafana_folder` annotation, which Grafana's sidecar reads only with `folderAnnotation: grafana_folder` and `provider.foldersFromFilesStructure: true` (kube-prometheus-stack: under `grafana.sidecar.dashboards`)"""
    import_: NotRequired[list[str]]
    """more dashboards: `*.json` files, or ConfigMap YAML such as Calico's official `grafana-dashboards.yaml`; paths relative to this folder. Default: `[]`."""
    cluster_label: NotRequired[str]
    """adds a `cluster` variable (the values of this label) to every shipped dashboard, and a matcher on it to every query; for one Grafana over several clusters. Default: `alerts.clusterLabel`."""
    grafana_url: NotRequired[str]
    """Grafana's base URL as people open it (e.g. `https://grafana.example.com`); each alert then links its dashboard in a `dashboard_url` annotation."""


class PrometheusServiceSettings(TypedDict):
    """Prometheus' Service, read through the API server's service proxy"""

    namespace: str
    """the Service's namespace."""
    service: str
    """the Service's name."""
    port: str
    """the Service's port, its number or its name."""
    scheme: NotRequired[PrometheusServiceScheme]
    """`https` for a Prometheus that serves TLS. Default: `http`."""


class VerifySettings(TypedDict):
    """After `pulumi up`, wait until Prometheus scrapes every target of the stack's monitors"""

    prometheus_url: NotRequired[str]
    """base URL of the Prometheus that should scrape these monitors, as the machine that runs `pulumi up` reaches it: `http://` or `https://`, a path prefix allowed, no user, query or fragment (e.g. `http://localhost:9090` next to `kubectl -n monitoring port-forward svc/prometheus-operated 9090`) Default: unset."""
    bearer_token: NotRequired[pulumi.Input[str]]
    """sent as `Authorization: Bearer` to an `https://` `prometheusUrl` (an authenticating proxy in front of Prometheus); set it with `pulumi config set --secret --path calico-monitoring:verify.bearerToken`. Pass it as a secret."""
    ca_cert_file: NotRequired[str]
    """PEM file of the CA an `https://` `prometheusUrl` is checked against, on the machine that runs Pulumi (unset: the system's CAs)"""
    ca_cert: NotRequired[str]
    """the same CA as inline PEM, instead of `caCertFile`."""
    prometheus: NotRequired[PrometheusServiceSettings]
    """instead of `prometheusUrl`: Prometheus' Service, `{namespace, service, port, scheme?}`, read through the API server's service proxy with the stack's own Kubernetes connection (no port-forward; the identity needs `get` on `services/proxy`, see `rbac/verify-service-proxy.yaml`); `port` is the Service port's number or name, `scheme` `https` for a Prometheus that serves TLS (e.g. `{namespace: monitoring, service: prometheus-operated, port: web}`) Default: unset."""
    timeout_seconds: NotRequired[int]
    """how long `up` waits for the targets (10 to 3600) Default: 180."""


class CalicoMonitoringArgs(TypedDict):
    """The settings of one CalicoMonitoring: the stack program's config keys, without the project prefix."""

    install: NotRequired[CalicoMonitoringInstall]
    """How Calico is installed, "manifest" (calico.yaml, kube-system) or "operator" (Tigera operator, calico-system). Default: "manifest"."""
    datastore: DatastoreSettings
    """The Calico datastore calicoctl talks to."""
    calicoctl: NotRequired[CalicoctlSettings]
    """an object."""
    felix: NotRequired[FelixSettings]
    """an object."""
    calico_node: NotRequired[CalicoNodeSettings]
    """an object."""
    pod_monitor: NotRequired[PodMonitorSettings]
    """an object."""
    typha: NotRequired[TyphaSettings]
    """an object."""
    kube_controllers: NotRequired[KubeControllersSettings]
    """an object."""
    alerts: NotRequired[AlertSettings]
    """an object."""
    dashboards: NotRequired[DashboardSettings]
    """an object."""
    prometheus_selection: NotRequired[CalicoMonitoringPrometheusSelection]
    """Whether a Prometheus of the cluster must select the monitors and the PrometheusRule (its monitor, rule and namespace selectors, read at preview): `require` fails the preview when none does (nothing to check without Prometheus objects); `warn` does not read them and warns with what a Prometheus must select; `off` for a Prometheus outside the cluster. Default: "require"."""
    verify: NotRequired[VerifySettings]
    """an object."""
