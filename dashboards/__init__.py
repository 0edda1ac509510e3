"""The shipped Grafana dashboards (``*.json`` here) and the Python that reads and re-points them.

``dashboards.loading`` reads dashboard JSON (the shipped files, imports from JSON or ConfigMap
YAML); ``dashboards.datasources`` points every Prometheus query at one datasource;
``dashboards.scoping`` sets the scrape job, scopes imported dashboards to the stack's jobs and
adds the cluster selector; ``dashboards.thresholds`` draws the alerts' thresholds;
``dashboards.document`` holds what they share (``DashboardError``, walking panels and variables,
the canonical text); ``dashboards.configmaps`` turns them into the ConfigMaps Grafana's sidecar
loads. Nothing here imports Pulumi.
"""
