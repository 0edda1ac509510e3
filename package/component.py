"""CalicoMonitoring as the package declares it: Args in (package/args.py), typed outputs out.

package/provider.py serves it: Construct turns the Args into the same Settings a stack's config
becomes (configuration.parse_settings, so every check and message is the program's) and builds
components.calico_monitoring.CalicoMonitoring with the caller's resource options.
"""

from enum import Enum
from typing import Any

import pulumi

from components.calico_monitoring import CalicoMonitoring as ProgramCalicoMonitoring
from configuration import Settings, parse_settings
from configuration.problems import PROJECT
from package.args import CalicoMonitoringArgs
from package.generate import Node, arg_keys, node_of, py_key
from package.sdk_internals import resolved_value

NAME = PROJECT
VERSION = "0.3.0"


class CalicoMonitoring(pulumi.ComponentResource):
    """Turns on Calico's Prometheus metrics (Felix, and optionally Typha and kube-controllers) with calicoctl,
    creates the PodMonitors or ServiceMonitors, the PrometheusRule and the Grafana dashboards. Pass your
    Kubernetes provider in the resource options; destroy puts the Calico configuration back as it was."""

    scrape_jobs: pulumi.Output[dict[str, str]]
    """The Prometheus job label of each Calico component this scrapes (felix, typha, kube-controllers)."""
    felix_metrics_enabled: pulumi.Output[bool]
    """prometheusMetricsEnabled of FelixConfiguration default, as calicoctl read it back after the patch."""
    felix_metrics_port: pulumi.Output[int]
    """prometheusMetricsPort of FelixConfiguration default, as calicoctl read it back after the patch."""
    felix_metrics: pulumi.Output[dict[str, Any]]
    """Every FelixConfiguration field the patch sets, as calicoctl read it back."""
    kube_controllers_metrics_port: pulumi.Output[int]
    """prometheusMetricsPort of KubeControllersConfiguration default (absent when kubeControllers is off)."""

    def __init__(self, name: str, args: CalicoMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # The host reads this class for the schema only; package/provider.py constructs the program's component.
        raise TypeError(
            "package.component.CalicoMonitoring declares the package's schema; in a Python program use "
            "components.calico_monitoring.CalicoMonitoring, or the generated SDK"
        )


def settings_from_args(args: dict[str, Any]) -> Settings:
    """The Settings a stack with these values would have; raises ConfigError naming every problem."""
    values, secret = {}, set()
    for alias, (model, field_name) in arg_keys((Settings,)).items():
        key = py_key(alias)
        if key in args and args[key] is not None:
            value, held = config_value(node_of(model.model_fields[field_name].annotation), args[key])
            values[f"{PROJECT}:{alias}"] = value
            if held:
                secret.add(f"{PROJECT}:{alias}")
    return parse_settings(values, secret)


def config_value(node: Node, value: Any) -> tuple[Any, bool]:
    """An Arg as the stack config spells it (camelCase keys, enum values, whole numbers), and whether it is secret."""
    if isinstance(value, pulumi.Output):
        return known_secret(value), True
    if node.kind == "section":
        fields = {alias: entry for alias, entry in arg_keys(node.models).items()}
        out, secret = {}, False
        for alias, (model, field_name) in fields.items():
            key = py_key(alias)
            if key in value and value[key] is not None:
                inner = node_of(model.model_fields[field_name].annotation) if alias != "type" else Node("enum")
                out[alias], held = config_value(inner, value[key])
                secret = secret or held
        return out, secret
    if node.kind == "list":
        pairs = [config_value(node.item, item) for item in value]
        return [item for item, _ in pairs], any(held for _, held in pairs)
    if node.kind == "map":
        pairs = {key: config_value(node.item, item) for key, item in value.items()}
        return {key: item for key, (item, _) in pairs.items()}, any(held for _, held in pairs.values())
    if isinstance(value, Enum):
        return value.value, False
    # Numbers reach a component provider as floats: 9091.0 for 9091.
    if node.kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value), False
    return value, node.kind == "secret"


def known_secret(value: pulumi.Output) -> Any:
    """The value of an Output the engine handed in already resolved (a secret Arg given as a literal or config).

    Settings decide which resources exist, so they are needed while the component is constructed; an Arg
    that is still unknown then (computed by another resource) cannot be used."""
    known, resolved = resolved_value(value)
    if not known:
        raise pulumi.RunError(
            f"{PROJECT}: a secret Arg must be known when the component is constructed (a literal or a config value)"
        )
    return resolved


def outputs_of(monitoring: ProgramCalicoMonitoring, settings: Settings) -> dict[str, Any]:
    applied = monitoring.felix.applied
    spec = applied.apply(lambda value: (value or {}).get("spec") or {})
    outputs: dict[str, Any] = {
        "scrape_jobs": settings.jobs,
        "felix_metrics": spec,
        "felix_metrics_enabled": spec.apply(lambda value: value.get("prometheusMetricsEnabled")),
        "felix_metrics_port": spec.apply(lambda value: value.get("prometheusMetricsPort")),
    }
    if settings.kube_controllers.enabled:
        outputs["kube_controllers_metrics_port"] = monitoring.kube_controllers.applied.apply(
            lambda value: ((value or {}).get("spec") or {}).get("prometheusMetricsPort")
        )
    return outputs
