"""The stack configuration: its typed model (``model``, one module per group of sections) and how stack values become
Settings (``loading``)."""

from builders.values import duration_ms, is_port_name
from configuration.alerts_and_dashboards import AlertSettings, DashboardSettings
from configuration.connection import (
    CalicoctlSettings,
    EtcdDatastore,
    KubernetesDatastore,
    KubernetesProviderSettings,
    Secret,
)
from configuration.loading import load_settings, parse_settings
from configuration.model import Settings
from configuration.monitors import (
    CalicoNodeSettings,
    FelixSettings,
    KubeControllersSettings,
    PodMonitorSettings,
    TyphaSettings,
    VerifySettings,
    WorkloadSettings,
)
from configuration.problems import ConfigError

__all__ = [
    "AlertSettings",
    "CalicoNodeSettings",
    "CalicoctlSettings",
    "ConfigError",
    "DashboardSettings",
    "EtcdDatastore",
    "FelixSettings",
    "KubeControllersSettings",
    "KubernetesDatastore",
    "KubernetesProviderSettings",
    "PodMonitorSettings",
    "Secret",
    "Settings",
    "TyphaSettings",
    "VerifySettings",
    "WorkloadSettings",
    "duration_ms",
    "is_port_name",
    "load_settings",
    "parse_settings",
]
