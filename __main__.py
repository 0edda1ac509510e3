"""calico-monitoring: Calico metrics into Prometheus-Operator and Grafana, one stack per cluster."""

import pulumi

from components.calico_monitoring import CalicoMonitoring
from components.settings import load_settings

settings = load_settings()
monitoring = CalicoMonitoring("calico-monitoring", settings)

pulumi.export("felixMetrics", monitoring.felix.applied)
pulumi.export("scrapeJobs", settings.jobs)
