"""The stack configuration as one typed model: every key, its default, what it accepts and what it means.

``Settings`` holds one section per config key (``configuration.connection``, ``configuration.monitors``,
``configuration.alerts_and_dashboards``) and what involves several of them: the defaults that follow the
install type or another section, and the checks across sections. Validating stack values
(``configuration.loading.parse_settings``) reports every problem at once at its exact path
(``configuration.problems``); Pulumi.yaml's `config:` block and the README's tables are generated from the
metadata here (``configuration.docs``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, ValidationInfo
from pydantic_core import InitErrorDetails

from builders.values import duration_ms, is_non_empty_path
from configuration.alerts_and_dashboards import AlertSettings, DashboardSettings
from configuration.connection import (
    CalicoctlSettings,
    EtcdDatastore,
    KubernetesDatastore,
    KubernetesProviderSettings,
    calicoctl_kubeconfig,
)
from configuration.monitors import (
    CalicoNodeSettings,
    FelixSettings,
    KubeControllersSettings,
    MonitorSettings,
    PodMonitorSettings,
    TyphaSettings,
    VerifySettings,
)
from configuration.problems import PROJECT, carried_problem, note_problem, value_problem
from configuration.section import Section, checked, section_models, setting

# The key under which the stack's `kubernetes:*` values reach the model; no project key can be spelt so.
PROVIDER_KEY = "kubernetes:"

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
    prometheus_selection: Literal["require", "warn", "off"] = setting(
        "require",
        accepts='"require", "warn" or "off"',
        meaning="Whether a Prometheus of the cluster must select the monitors and the PrometheusRule (its monitor, "
        "rule and namespace selectors, read at preview): `require` fails the preview when none does (nothing to "
        "check without Prometheus objects); `warn` does not read them and warns with what a Prometheus must select; "
        "`off` for a Prometheus outside the cluster.",
    )
    verify: VerifySettings | None = setting(None, accepts="an object")
    render_yaml_to: Annotated[
        str | None, BeforeValidator(lambda v: None if v == "" else v), checked(is_non_empty_path)
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
                return carried_problem(error, (loc[0], *loc[2:]))
        if loc[:1] == ("verify",) and len(loc) > 1 and loc[1] == "VerifySettings":
            return carried_problem(error, (loc[0], *loc[2:]))
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
