"""The stack configuration: its typed model (``model``) and how it is read from Pulumi (``loading``)."""

from configuration.loading import load_settings
from configuration.model import (
    AlertSettings,
    CalicoctlSettings,
    CalicoNodeSettings,
    ConfigError,
    DashboardSettings,
    EtcdDatastore,
    FelixSettings,
    KubernetesDatastore,
    KubernetesProviderSettings,
    PodMonitorSettings,
    Secret,
    Settings,
    VerifySettings,
    WorkloadSettings,
    duration_ms,
    is_port_name,
    parse_settings,
)

__all__ = [
    "AlertSettings",
    "CalicoNodeSettings",
    "CalicoctlSettings",
    "ConfigError",
    "DashboardSettings",
    "EtcdDatastore",
    "FelixSettings",
    "KubernetesDatastore",
    "KubernetesProviderSettings",
    "PodMonitorSettings",
    "Secret",
    "Settings",
    "VerifySettings",
    "WorkloadSettings",
    "duration_ms",
    "is_port_name",
    "load_settings",
    "parse_settings",
]
