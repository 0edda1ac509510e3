"""Pure builders of the Kubernetes objects this program creates or patches.

Selectors and port names follow what Calico's manifests and the Tigera operator
actually deploy: every Calico pod carries `k8s-app: <workload name>`; the operator
puts Typha's metrics behind the Service `calico-typha-metrics` (labelled
`k8s-app: calico-typha-metrics`, port `calico-typha-metrics`) and kube-controllers'
behind `calico-kube-controllers-metrics` (labelled `k8s-app: calico-kube-controllers`,
port `metrics-port`). Open-source Calico has no Service for Felix's metrics, so this
program brings its own.
"""

from __future__ import annotations

from typing import Any

from builders.sdk_values import camel_keys
from builders.used_metrics import keep_relabeling, shipped_used_names
from configuration import CalicoNodeSettings, PodMonitorSettings, WorkloadSettings

# Patches of objects this program does not own. No fixed field manager: the provider gives
# each patch resource its own, kept in state, so a replacement (create-before-delete) applies
# under a new manager before the old one gives its fields up, and nothing is stripped.
# skipAwait: applying returns at once instead of waiting for the whole DaemonSet/Deployment
# rollout (one pod at a time; minutes to hours on large clusters).
PATCH_ANNOTATIONS = {"pulumi.com/skipAwait": "true"}
MONITORING_API = "monitoring.coreos.com/v1"
MANAGED_BY = {"app.kubernetes.io/managed-by": "calico-monitoring"}

# The Tigera operator's metrics Services (tigera/operator pkg/render).
OPERATOR_TYPHA_SERVICE = {"selector": {"k8s-app": "calico-typha-metrics"}, "port": "calico-typha-metrics"}
OPERATOR_KUBE_CONTROLLERS_SERVICE = {"selector": {"k8s-app": "calico-kube-controllers"}, "port": "metrics-port"}

NODE_NAME_RELABELING = {
    "action": "replace",
    "sourceLabels": ["__meta_kubernetes_pod_node_name"],
    "targetLabel": "node",
}


def app_selector(workload: str) -> dict[str, str]:
    return {"k8s-app": workload}


def _patch_metadata(name: str, namespace: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "annotations": dict(PATCH_ANNOTATIONS),
    }


def container_patch(
    name: str,
    namespace: str,
    container: str,
    *,
    port: int | None = None,
    port_name: str | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Server-side-apply patch of one container of a workload this program does not own.

    Only the listed port and variables become ours: server-side apply records this
    program as the manager of those list entries, and destroying the patch gives up
    exactly those entries.
    """
    entry: dict[str, Any] = {"name": container}
    if env:
        entry["env"] = [{"name": key, "value": env[key]} for key in sorted(env)]
    if port is not None:
        entry["ports"] = [{"containerPort": port, "name": port_name, "protocol": "TCP"}]
    return {
        "metadata": _patch_metadata(name, namespace),
        "spec": {"template": {"spec": {"containers": [entry]}}},
    }


def calico_node_port_patch(calico_node: CalicoNodeSettings, metrics_port: int) -> dict[str, Any]:
    """Declares Felix's metrics port on the calico-node container (the tutorial's edit)."""
    return container_patch(
        calico_node.daemon_set,
        calico_node.namespace,
        calico_node.container,
        port=metrics_port,
        port_name=calico_node.port_name,
    )


def typha_patch(typha: WorkloadSettings, declare_port: bool) -> dict[str, Any]:
    """Turns on Typha's metrics (manifest installs) and, for a PodMonitor, declares the port."""
    env = {"TYPHA_PROMETHEUSMETRICSENABLED": "true", "TYPHA_PROMETHEUSMETRICSPORT": str(typha.metrics_port)}
    port = typha.metrics_port if declare_port else None
    return container_patch(
        typha.deployment, typha.namespace, typha.container, port=port, port_name=typha.port_name, env=env
    )


# How server-side apply keys the container lists a patch sets (merge keys of env and ports).
_LIST_KEYS = {
    "env": lambda item: item.get("name"),
    "ports": lambda item: (item.get("containerPort"), item.get("protocol", "TCP")),
}


def align_with_live(patch: dict[str, Any], live_spec: dict[str, Any] | None) -> dict[str, Any]:
    """The patch's spec with each of its container lists in the order the live object keeps them.

    Server-side apply keeps a workload's own `env`/`ports` entries first and appends ours.
    The kubernetes provider diffs the live object against the patch item by item, so a patch
    of a container that already has entries would preview an update forever. Listing the
    live entries before ours (the same values, so server-side apply only co-owns them) makes
    both lists line up; ours still go when the patch is destroyed.
    """
    spec = patch["spec"]
    pod = (live_spec or {}).get("template", {}).get("spec", {})
    live_containers = {c.get("name"): c for c in pod.get("containers") or []}
    containers = []
    for entry in spec["template"]["spec"]["containers"]:
        live = live_containers.get(entry["name"], {})
        aligned = dict(entry)
        for field, key in _LIST_KEYS.items():
            if field in entry:
                # Read back through the SDK, some keys of these entries arrive in snake_case.
                theirs = camel_keys(live.get(field) or [])
                ours = {key(item) for item in entry[field]}
                aligned[field] = [item for item in theirs if key(item) not in ours] + entry[field]
        containers.append(aligned)
    return {"template": {"spec": {"containers": containers}}}


def kube_controllers_port_patch(kube_controllers: WorkloadSettings) -> dict[str, Any]:
    return container_patch(
        kube_controllers.deployment,
        kube_controllers.namespace,
        kube_controllers.container,
        port=kube_controllers.metrics_port,
        port_name=kube_controllers.port_name,
    )


def installation_typha_patch(metrics_port: int) -> dict[str, Any]:
    """Asks the Tigera operator to turn on Typha's metrics and create their Service."""
    return {
        "apiVersion": "operator.tigera.io/v1",
        "kind": "Installation",
        "metadata": {"name": "default", "annotations": dict(PATCH_ANNOTATIONS)},
        "spec": {"typhaMetricsPort": metrics_port},
    }


def _endpoint(
    settings: PodMonitorSettings, port_name: str, relabelings: list[dict[str, Any]], component: str
) -> dict[str, Any]:
    endpoint: dict[str, Any] = {"port": port_name, "path": settings.path, "interval": settings.interval}
    if settings.scrape_timeout is not None:
        endpoint["scrapeTimeout"] = settings.scrape_timeout
    if settings.honor_labels:
        endpoint["honorLabels"] = True
    # The stack's own after the program's: the job and node labels are set before anything reads them.
    relabelings = [*relabelings, *(r.manifest() for r in settings.relabelings)]
    if relabelings:
        endpoint["relabelings"] = relabelings
    metric_relabelings = [r.manifest() for r in settings.metric_relabelings]
    if settings.keep_only_used_metrics:
        # Applied to scraped samples only: up and scrape_* stay whatever the list says. Last, so that a
        # metric the stack renames is kept or dropped under the name the queries read.
        metric_relabelings.append(keep_relabeling(shipped_used_names(component)))
    if metric_relabelings:
        endpoint["metricRelabelings"] = metric_relabelings
    return endpoint


def _monitor_metadata(name: str, settings: PodMonitorSettings, labels: dict[str, str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": settings.namespace, "labels": labels}
    if settings.annotations:
        metadata["annotations"] = dict(settings.annotations)
    return metadata


def _with_sample_limit(spec: dict[str, Any], settings: PodMonitorSettings) -> dict[str, Any]:
    if settings.sample_limit is not None:
        spec["sampleLimit"] = settings.sample_limit
    return spec


def pod_monitor(
    name: str,
    settings: PodMonitorSettings,
    *,
    selector: dict[str, str],
    namespace: str,
    port_name: str,
    node_label: bool,
    component: str,
) -> dict[str, Any]:
    """A PodMonitor of a Calico ``component``; prometheus-operator names its job <namespace>/<name>."""
    return {
        "apiVersion": MONITORING_API,
        "kind": "PodMonitor",
        "metadata": _monitor_metadata(name, settings, {**selector, **dict(settings.labels)}),
        "spec": _with_sample_limit(
            {
                "selector": {"matchLabels": dict(selector)},
                "namespaceSelector": {"matchNames": [namespace]},
                "podMetricsEndpoints": [
                    _endpoint(settings, port_name, [NODE_NAME_RELABELING] if node_label else [], component)
                ],
            },
            settings,
        ),
    }


def felix_pod_monitor(settings: PodMonitorSettings, calico_node: CalicoNodeSettings) -> dict[str, Any]:
    """The tutorial's PodMonitor, plus the node name as a `node` label on every series."""
    return pod_monitor(
        settings.name,
        settings,
        selector=app_selector(calico_node.daemon_set),
        namespace=calico_node.namespace,
        port_name=calico_node.port_name,
        node_label=True,
        component="felix",
    )


def felix_service_scrape(
    settings: PodMonitorSettings, calico_node: CalicoNodeSettings, metrics_port: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Felix scraped through our headless Service: nothing on calico-node changes."""
    return service_scrape(
        "calico-monitoring-felix",
        settings.name,
        settings,
        namespace=calico_node.namespace,
        pod_selector=app_selector(calico_node.daemon_set),
        port=metrics_port,
        port_name=calico_node.port_name,
        node_label=True,
        component="felix",
    )


def service_monitor(
    name: str,
    settings: PodMonitorSettings,
    *,
    selector: dict[str, str],
    namespace: str,
    port_name: str,
    node_label: bool,
    component: str,
) -> dict[str, Any]:
    """A ServiceMonitor of a Calico ``component`` whose job is <namespace>/<name>, like a PodMonitor's.

    prometheus-operator would name the job after the Service; keeping one naming
    scheme means switching scrape modes does not break dashboards, alerts or history.
    """
    job = {"action": "replace", "targetLabel": "job", "replacement": f"{settings.namespace}/{name}"}
    relabelings = [job, NODE_NAME_RELABELING] if node_label else [job]
    return {
        "apiVersion": MONITORING_API,
        "kind": "ServiceMonitor",
        "metadata": _monitor_metadata(name, settings, {**MANAGED_BY, **dict(settings.labels)}),
        "spec": _with_sample_limit(
            {
                "selector": {"matchLabels": dict(selector)},
                "namespaceSelector": {"matchNames": [namespace]},
                "endpoints": [_endpoint(settings, port_name, relabelings, component)],
            },
            settings,
        ),
    }


def metrics_service(
    name: str, namespace: str, *, pod_selector: dict[str, str], port: int, port_name: str
) -> dict[str, Any]:
    """A headless Service in front of pods that declare no metrics port (nothing restarts)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**MANAGED_BY, "calico-monitoring/metrics": name},
        },
        "spec": {
            "clusterIP": "None",
            "selector": dict(pod_selector),
            "ports": [{"name": port_name, "port": port, "targetPort": port, "protocol": "TCP"}],
        },
    }


def service_scrape(
    service_name: str,
    monitor_name: str,
    settings: PodMonitorSettings,
    *,
    namespace: str,
    pod_selector: dict[str, str],
    port: int,
    port_name: str,
    node_label: bool,
    component: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A headless Service of ours in front of pods, and the ServiceMonitor that selects it."""
    service = metrics_service(service_name, namespace, pod_selector=pod_selector, port=port, port_name=port_name)
    monitor = service_monitor(
        monitor_name,
        settings,
        selector=dict(service["metadata"]["labels"]),
        namespace=namespace,
        port_name=port_name,
        node_label=node_label,
        component=component,
    )
    return service, monitor


def prometheus_rule(
    name: str, namespace: str, labels: tuple[tuple[str, str], ...], groups: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "apiVersion": MONITORING_API,
        "kind": "PrometheusRule",
        "metadata": {"name": name, "namespace": namespace, "labels": {**MANAGED_BY, **dict(labels)}},
        "spec": {"groups": groups},
    }


def rollout_status(metadata: dict[str, Any] | None, status: dict[str, Any] | None) -> dict[str, Any]:
    """Where a DaemonSet's rollout stands, from the object the provider last read.

    `complete` once the controller has seen the newest generation and every scheduled pod
    runs it. The patch does not wait for this (skipAwait); `pulumi refresh` reads it again.
    """
    metadata, status = metadata or {}, camel_keys(status or {})  # only `generation` is read of metadata
    generation = metadata.get("generation")
    observed = status.get("observedGeneration")
    desired = status.get("desiredNumberScheduled")
    updated = status.get("updatedNumberScheduled", 0)
    complete = generation is not None and observed == generation and desired is not None and updated == desired
    return {
        "generation": generation,
        "observedGeneration": observed,
        "desiredNumberScheduled": desired,
        "updatedNumberScheduled": updated,
        "complete": complete,
    }
