"""Every component's rules in the order they are rendered: Felix, Typha, then calico-kube-controllers."""

from __future__ import annotations

from alerts import felix, kube_controllers, typha
from alerts.templates import AlertDefinition, RecordingRule

COMPONENTS: tuple[str, ...] = ("felix", "typha", "kube-controllers")

DEFAULT_JOBS: dict[str, str] = {
    "felix": "monitoring/felix",
    "typha": "monitoring/calico-typha",
    "kube-controllers": "monitoring/calico-kube-controllers",
}

RECORDING_RULES: tuple[RecordingRule, ...] = (
    *felix.RECORDING_RULES,
    *typha.RECORDING_RULES,
    *kube_controllers.RECORDING_RULES,
)

ALERTS: tuple[AlertDefinition, ...] = (*felix.ALERTS, *typha.ALERTS, *kube_controllers.ALERTS)

ALERT_NAMES: tuple[str, ...] = tuple(a.name for a in ALERTS)
