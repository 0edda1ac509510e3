"""The shipped Grafana dashboards (``*.json`` here) and the Python that reads and re-points them.

``dashboards.rewrite`` loads dashboard JSON, points every Prometheus query at one datasource,
sets the scrape job and scopes imported dashboards to the stack's jobs; ``dashboards.configmaps``
turns them into the ConfigMaps Grafana's sidecar loads. Nothing here imports Pulumi.
"""
