"""What a stack creates and patches, decided once from its settings.

``plan_stack`` is the one place that decides, per Calico component, the calicoctl patch that turns its
metrics on, the patch of Calico's own workload (and so the pods it restarts), the Service and monitor that
scrape it, and the CRDs those need; and, for the stack, the PrometheusRule and the dashboard ConfigMaps.
The components create what the plan lists; the preflight check, the CRD prerequisites, `verify`'s expected
jobs and the offline render read it. Pure: no Pulumi.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from alerts import build_rule_groups
from builders.manifests import (
    OPERATOR_KUBE_CONTROLLERS_SERVICE,
    OPERATOR_TYPHA_SERVICE,
    app_selector,
    calico_node_port_patch,
    felix_pod_monitor,
    felix_service_scrape,
    installation_typha_patch,
    kube_controllers_port_patch,
    pod_monitor,
    prometheus_rule,
    service_monitor,
    service_scrape,
    typha_patch,
)
from configuration import FelixSettings, PodMonitorSettings, Settings, WorkloadSettings
from dashboards.configmaps import dashboard_configmaps, dashboard_files

MONITORING_GROUP = "monitoring.coreos.com"

# The objects this program patches, by the kind of its patch: apiVersion, kind and REST plural.
DAEMON_SET = ("apps/v1", "DaemonSet", "daemonsets")
DEPLOYMENT = ("apps/v1", "Deployment", "deployments")
INSTALLATION = ("operator.tigera.io/v1", "Installation", "installations")


def felix_patch(felix: FelixSettings) -> dict[str, Any]:
    """The FelixConfiguration spec fields this program sets; unset options are left alone."""
    spec: dict[str, Any] = {"prometheusMetricsEnabled": True, "prometheusMetricsPort": felix.metrics_port}
    optional = {
        "prometheusMetricsHost": felix.metrics_host,
        "prometheusGoMetricsEnabled": felix.go_metrics,
        "prometheusProcessMetricsEnabled": felix.process_metrics,
    }
    spec |= {field: value for field, value in optional.items() if value is not None}
    return {"spec": spec}


@dataclass(frozen=True)
class ObjectRef:
    """A Kubernetes object by kind, namespace (None: cluster-scoped) and name."""

    api_version: str
    kind: str
    namespace: str | None
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(frozen=True)
class CalicoctlPlan:
    """`calicoctl patch <kind> default` with these fields."""

    kind: str  # felixConfiguration or kubeControllersConfiguration
    patch: dict[str, Any]


@dataclass(frozen=True)
class WorkloadPatch:
    """A server-side-apply patch of a Calico object this program does not own."""

    resource: str  # the Pulumi resource name's suffix under its component
    target: tuple[str, str, str]  # DAEMON_SET, DEPLOYMENT or INSTALLATION
    manifest: dict[str, Any]
    # The pods a change of this patch rolls (its create and its delete): a pod template edit restarts every pod.
    restarts: ObjectRef

    @property
    def object(self) -> ObjectRef:
        metadata = self.manifest["metadata"]
        return ObjectRef(self.target[0], self.target[1], metadata.get("namespace"), metadata["name"])


@dataclass(frozen=True)
class ScrapePlan:
    """The monitor that scrapes a component, and the Service of ours it selects, if any."""

    monitor: dict[str, Any]  # a PodMonitor or ServiceMonitor manifest
    service: dict[str, Any] | None
    name_setting: str  # the config key that renames the monitor

    @property
    def monitor_kind(self) -> str:
        """podMonitor or serviceMonitor, as prometheus-operator prefixes the scrape configs it generates."""
        kind = self.monitor["kind"]
        return kind[0].lower() + kind[1:]

    @property
    def crd(self) -> str:
        return f"{self.monitor['kind'].lower()}s.{MONITORING_GROUP}"


@dataclass(frozen=True)
class ComponentPlan:
    """Everything one Calico component gets."""

    component: str  # felix, typha or kube-controllers
    job: str  # the `job` label of its targets: its monitor's <namespace>/<name>
    targets: ObjectRef  # the DaemonSet or Deployment whose pods are the scrape targets
    metrics_switch: str  # what turns its metrics on, as `verify` names it
    calicoctl: CalicoctlPlan | None
    patch: WorkloadPatch | None
    scrape: ScrapePlan | None  # None: <component>.monitor.enabled false


@dataclass(frozen=True)
class SelectedObject:
    """A monitor or the rule, with the config keys that set its labels and its namespace."""

    manifest: dict[str, Any]
    labels_setting: str
    namespace_setting: str


@dataclass(frozen=True)
class StackPlan:
    """Everything one stack creates and patches."""

    components: tuple[ComponentPlan, ...]
    rule: dict[str, Any] | None  # the PrometheusRule manifest
    dashboards: tuple[dict[str, Any], ...]  # the dashboard ConfigMap manifests
    # The Calico object that must exist before anything is applied (None in render mode).
    required_object: ObjectRef | None
    # Whether the preview checks that a Prometheus of the cluster selects the monitors and the rule.
    prometheus_selection: str = "require"  # require, warn or off

    def component(self, name: str) -> ComponentPlan | None:
        return next((plan for plan in self.components if plan.component == name), None)

    @property
    def jobs(self) -> dict[str, str]:
        """Scrape job per component this stack scrapes (the dashboards and alerts use them)."""
        return scraped_jobs(self.components)

    @property
    def crds(self) -> list[str]:
        """The prometheus-operator CRDs the monitors and the rule need."""
        crds = {plan.scrape.crd for plan in self.components if plan.scrape is not None}
        if self.rule is not None:
            crds.add(f"prometheusrules.{MONITORING_GROUP}")
        return sorted(crds)

    @property
    def restarts(self) -> list[ObjectRef]:
        """The workloads whose pods every change of a patch rolls."""
        return [plan.patch.restarts for plan in self.components if plan.patch is not None]

    def objects_created(self) -> list[tuple[dict[str, Any], str]]:
        """Every object of a fixed name the stack creates (patches aside), with the config key that renames it
        ("" when none does: a Service of ours follows its monitor's name)."""
        created: list[tuple[dict[str, Any], str]] = []
        for plan in self.components:
            if plan.scrape is None:
                continue
            if plan.scrape.service is not None:
                created.append((plan.scrape.service, plan.scrape.name_setting if plan.component != "felix" else ""))
            created.append((plan.scrape.monitor, plan.scrape.name_setting))
        if self.rule is not None:
            created.append((self.rule, "alerts.name"))
        created.extend((configmap, "dashboards.namespace") for configmap in self.dashboards)
        return created

    def used_by_prometheus(self) -> list[SelectedObject]:
        """The monitors and the rule: objects a Prometheus uses only if its selectors pick them."""
        used = [
            SelectedObject(plan.scrape.monitor, "podMonitor.labels", "podMonitor.namespace")
            for plan in self.components
            if plan.scrape is not None
        ]
        if self.rule is not None:
            used.append(SelectedObject(self.rule, "alerts.labels", "alerts.namespace"))
        return used


def scraped_jobs(components: Iterable[ComponentPlan]) -> dict[str, str]:
    """Scrape job per component that has a monitor of ours."""
    return {plan.component: plan.job for plan in components if plan.scrape is not None}


def plan_stack(settings: Settings) -> StackPlan:
    """The plan of a stack; raises dashboards' DashboardError naming a bad dashboard import."""
    components = [_felix(settings)]
    if settings.typha.enabled:
        components.append(_typha(settings))
    if settings.kube_controllers.enabled:
        components.append(_kube_controllers(settings))
    jobs = scraped_jobs(components)
    dashboards: list[dict[str, Any]] = []
    if settings.dashboards.enabled:
        files = dashboard_files(
            settings.dashboards, jobs, import_jobs=settings.all_jobs, alert_overrides=settings.alerts.overrides
        )
        dashboards = dashboard_configmaps(settings.dashboards, files)
    rule = None
    if jobs and (settings.alerts.enabled or dashboards):  # no jobs: every monitor turned off
        rule = prometheus_rule(
            settings.alerts.name, settings.alerts.namespace, settings.alerts.labels, rule_groups(settings, jobs)
        )
    required = None
    if settings.render_yaml_to is None:
        if settings.install == "operator":
            required = ObjectRef(INSTALLATION[0], INSTALLATION[1], None, "default")
        elif components[0].patch is not None:
            required = components[0].patch.object
    return StackPlan(tuple(components), rule, tuple(dashboards), required, settings.prometheus_selection)


def rule_groups(settings: Settings, jobs: dict[str, str]) -> list[dict[str, Any]]:
    """Recording rules (the dashboards use them too) and, unless `alerts.enabled` is false, the alerts."""
    alerts, dashboards = settings.alerts, settings.dashboards
    return build_rule_groups(
        jobs,
        alerts.overrides,
        runbook_url_pattern=alerts.runbook_url,
        components=list(jobs),
        include_alerts=alerts.enabled,
        # The dashboards' cluster label when the rules have none of their own: recorded series keep it.
        cluster_label=alerts.cluster_label or dashboards.cluster_label,
        # Alerts link their dashboard when the dashboards are shipped and Grafana's URL is known.
        grafana_url=dashboards.grafana_url if dashboards.enabled else None,
        dashboard_cluster_label=dashboards.cluster_label,
        rule_labels=dict(alerts.rule_labels),
        rule_annotations=dict(alerts.rule_annotations),
    )


def _felix(settings: Settings) -> ComponentPlan:
    node, felix = settings.calico_node, settings.felix
    monitors = settings.monitor_settings("felix")
    daemon_set = _workload(DAEMON_SET, node.namespace, node.daemon_set)
    patch = scrape = None
    if settings.declares_ports:
        manifest = calico_node_port_patch(node, felix.metrics_port)
        patch = WorkloadPatch("daemonset-patch", DAEMON_SET, manifest, daemon_set)
        if settings.monitored("felix"):
            scrape = ScrapePlan(felix_pod_monitor(monitors, node), None, "podMonitor.name")
    elif settings.monitored("felix"):
        service, monitor = felix_service_scrape(monitors, node, felix.metrics_port)
        scrape = ScrapePlan(monitor, service, "podMonitor.name")
    return ComponentPlan(
        component="felix",
        job=monitors.job,
        targets=daemon_set,
        metrics_switch="FelixConfiguration prometheusMetricsEnabled",
        calicoctl=CalicoctlPlan("felixConfiguration", felix_patch(felix)),
        patch=patch,
        scrape=scrape,
    )


def _typha(settings: Settings) -> ComponentPlan:
    typha = settings.typha
    deployment = _workload(DEPLOYMENT, typha.namespace, typha.deployment)
    if settings.install == "operator":
        # The operator turns the metrics on in the calico-typha Deployment it owns, which rolls it.
        patch = WorkloadPatch(
            "installation-patch", INSTALLATION, installation_typha_patch(typha.metrics_port), deployment
        )
        switch = "Installation default typhaMetricsPort"
    else:
        manifest = typha_patch(typha, declare_port=settings.declares_ports)
        patch = WorkloadPatch("deployment-patch", DEPLOYMENT, manifest, deployment)
        switch = "TYPHA_PROMETHEUSMETRICSENABLED on the calico-typha Deployment"
    return ComponentPlan(
        component="typha",
        job=settings.monitor_job(typha.monitor_name),
        targets=deployment,
        metrics_switch=switch,
        calicoctl=None,
        patch=patch,
        scrape=_workload_scrape(settings, "typha", "typha", typha, OPERATOR_TYPHA_SERVICE, node_label=True),
    )


def _kube_controllers(settings: Settings) -> ComponentPlan:
    workload = settings.kube_controllers
    deployment = _workload(DEPLOYMENT, workload.namespace, workload.deployment)
    patch = None
    if settings.declares_ports:
        patch = WorkloadPatch("deployment-patch", DEPLOYMENT, kube_controllers_port_patch(workload), deployment)
    return ComponentPlan(
        component="kube-controllers",
        job=settings.monitor_job(workload.monitor_name),
        targets=deployment,
        metrics_switch="KubeControllersConfiguration prometheusMetricsPort",
        calicoctl=CalicoctlPlan(
            "kubeControllersConfiguration", {"spec": {"prometheusMetricsPort": workload.metrics_port}}
        ),
        patch=patch,
        # ipam_* series carry their own `node` label.
        scrape=_workload_scrape(
            settings,
            "kube-controllers",
            "kubeControllers",
            workload,
            OPERATOR_KUBE_CONTROLLERS_SERVICE,
            node_label=False,
        ),
    )


def _workload(kind: tuple[str, str, str], namespace: str, name: str) -> ObjectRef:
    return ObjectRef(kind[0], kind[1], namespace, name)


def _workload_scrape(
    settings: Settings,
    component: str,
    key: str,
    workload: WorkloadSettings,
    operator_service: dict[str, Any],
    *,
    node_label: bool,
) -> ScrapePlan | None:
    """A PodMonitor on the declared port (manifest install, pod scrape), a ServiceMonitor on a headless Service
    of ours (manifest install, service scrape), or a ServiceMonitor on the operator's own metrics Service."""
    if not settings.monitored(component):
        return None
    monitors = settings.monitor_settings(component)
    service, monitor = workload_monitor_manifests(
        settings, component, workload, monitors, operator_service, node_label=node_label
    )
    return ScrapePlan(monitor, service, f"{key}.monitorName")


def workload_monitor_manifests(
    settings: Settings,
    component: str,
    workload: WorkloadSettings,
    monitors: PodMonitorSettings,
    operator_service: dict[str, Any],
    *,
    node_label: bool,
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    common = {"namespace": workload.namespace, "node_label": node_label, "component": component}
    if settings.declares_ports:
        monitor = pod_monitor(
            workload.monitor_name,
            monitors,
            selector=app_selector(workload.deployment),
            port_name=workload.port_name,
            **common,
        )
        return None, monitor
    if settings.install == "manifest":
        return service_scrape(
            f"calico-monitoring-{workload.monitor_name}",
            workload.monitor_name,
            monitors,
            pod_selector=app_selector(workload.deployment),
            port=workload.metrics_port,
            port_name=workload.port_name,
            **common,
        )
    monitor = service_monitor(
        workload.monitor_name,
        monitors,
        selector=dict(operator_service["selector"]),
        port_name=operator_service["port"],
        **common,
    )
    return None, monitor
