"""An operator install scraped for real: the real Felix, Typha and kube-controllers in calico-system, found by
Prometheus through the ServiceMonitors of `install: operator` (Felix through the program's own headless Service,
Typha and kube-controllers through the operator's metrics Services).

The Tigera operator itself is not run (it is not served as a Go module that builds here); the scenario does
what its render does where this program is concerned: Calico's workloads in calico-system with Felix told
Typha's namespace, the `calico-typha` Service Felix finds Typha through, and, once the program has set
Installation `typhaMetricsPort` and KubeControllersConfiguration's port, Typha's metrics environment and the
`calico-typha-metrics` and `calico-kube-controllers-metrics` Services (tigera/operator pkg/render: typha.go,
kubecontrollers/kube-controllers.go).
"""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from tests.e2e.cluster import calico_manifests
from tests.e2e.conftest import seed_calico_configuration, wait_established
from tests.e2e.measurements import FIGURES
from tests.e2e.simulation import PodUidWatch, daemonset_settled, deployment_settled, wait_for
from tests.e2e.test_manifest_install import example_config
from tests.e2e.test_pipeline import FELIX_JOB, every_target_up_through_service_monitors, targets_of
from tests.e2e.test_stacks import install_operator_installation

pytestmark = pytest.mark.e2e

NAMESPACE = "calico-system"
WORKLOADS = ("DaemonSet", "Deployment", "ServiceAccount", "ConfigMap", "Service")


def in_calico_system(document: dict) -> dict:
    """One of calico-typha.yaml's objects as the operator runs it: in calico-system, Felix told where Typha is."""
    document = copy.deepcopy(document)
    if document["kind"] in WORKLOADS:
        document["metadata"]["namespace"] = NAMESPACE
    for subject in document.get("subjects", []):
        if subject.get("namespace") == "kube-system":
            subject["namespace"] = NAMESPACE
    if document["kind"] == "DaemonSet":
        container = document["spec"]["template"]["spec"]["containers"][0]
        container["env"].append({"name": "FELIX_TYPHAK8SNAMESPACE", "value": NAMESPACE})
    return document


def metrics_service(name: str, labels: dict, selector: dict, port_name: str, port: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "clusterIP": "None",
            "selector": selector,
            "ports": [{"name": port_name, "port": port, "targetPort": port, "protocol": "TCP"}],
        },
    }


def act_as_the_operator(cluster) -> None:
    """What the operator renders once the program has asked for Typha's and kube-controllers' metrics."""
    installation = cluster.get("installation", "default")
    typha_port = installation["spec"]["typhaMetricsPort"]
    controllers_port = cluster.calico_resource("kubeControllersConfiguration")["spec"]["prometheusMetricsPort"]
    cluster.kubectl(
        "set", "env", "-n", NAMESPACE, "deployment/calico-typha", "-c", "calico-typha",
        "TYPHA_PROMETHEUSMETRICSENABLED=true", f"TYPHA_PROMETHEUSMETRICSPORT={typha_port}",
    )  # fmt: skip
    services = [
        metrics_service("calico-typha-metrics", {"k8s-app": "calico-typha-metrics"}, {"k8s-app": "calico-typha"},
                        "calico-typha-metrics", typha_port),
        metrics_service("calico-kube-controllers-metrics", {"k8s-app": "calico-kube-controllers"},
                        {"k8s-app": "calico-kube-controllers"}, "metrics-port", controllers_port),
    ]  # fmt: skip
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(services))


def test_operator_install_is_scraped_through_its_service_monitors(make_cluster, make_stack, make_pipeline):
    nodes = 3
    cluster = make_cluster(nodes=nodes, calico=False, real_calico=True)
    manifests = calico_manifests()
    crds = [d for d in yaml.safe_load_all((manifests / "crds.yaml").read_text()) if d]
    cluster.kubectl("create", "-f", "-", input=yaml.safe_dump_all(crds))
    for crd in crds:
        wait_established(cluster, crd["metadata"]["name"])
    seed_calico_configuration(cluster)
    install_operator_installation(cluster)
    documents = [
        in_calico_system(d)
        for d in yaml.safe_load_all((manifests / "calico-typha.yaml").read_text())
        if d and d["kind"] != "CustomResourceDefinition"
    ]
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(documents))
    api = cluster.api_client()
    wait_for(
        "calico-system's workloads running",
        lambda: (
            daemonset_settled(api, NAMESPACE, "calico-node", nodes)
            and all(deployment_settled(api, NAMESPACE, d) for d in ("calico-typha", "calico-kube-controllers"))
        ),
        300,
    )
    pipeline = make_pipeline(cluster)
    prometheus = pipeline.prometheus
    watch = PodUidWatch(api, NAMESPACE, "k8s-app=calico-node")
    config = example_config("example-operator")
    config["calico-monitoring:podMonitor"] = {**config["calico-monitoring:podMonitor"], "interval": "2s"}
    stack = make_stack(cluster, config)
    stack.up()
    act_as_the_operator(cluster)
    up_seconds = every_target_up_through_service_monitors(pipeline, cluster, nodes, NAMESPACE)
    assert set(watch.rollouts().values()) == {0}, "an operator install: the program replaces no calico-node pod"
    # Felix really serves what the dashboards read, under the operator as elsewhere.
    assert prometheus.query(f'felix_cluster_num_hosts{{job="{FELIX_JOB}"}}'), "no Felix series scraped"
    stack.destroy()
    wait_for("Felix scrape job gone", lambda: not targets_of(prometheus, FELIX_JOB), 60)
    assert set(watch.rollouts().values()) == {0}
    watch.stop()
    FIGURES.append(f"operator install, {nodes} nodes, real Felix: every Felix target up {up_seconds:.1f} s after up")
    felix_spec = cluster.calico_resource("felixConfiguration")["spec"]
    assert felix_spec.get("prometheusMetricsEnabled") is not True, json.dumps(felix_spec)
