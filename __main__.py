"""calico-monitoring: Calico metrics into Prometheus-Operator and Grafana, one stack per cluster."""

import pulumi

from components.calico_monitoring import CalicoMonitoring
from configuration import load_settings

settings = load_settings()
monitoring = CalicoMonitoring("calico-monitoring", settings)

for name, value in monitoring.outputs.items():
    pulumi.export(name, value)
