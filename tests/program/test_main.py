"""The whole program on Pulumi's mock engine: what each example stack registers."""

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi import RunError

from components.calico_monitoring import CalicoMonitoring
from configuration import load_settings
from tools.evaluator.mock_engine import Evaluation, SecretInput, evaluate, reveal, stack_file_config

COMPONENT = "calico-monitoring:index:"
COMMAND = "pulumi-python:dynamic/calico-monitoring:CalicoctlPatch"
PATCH = "kubernetes:apps/v1:DaemonSetPatch"
PODMONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
PROVIDER = "pulumi:providers:kubernetes"

EXPECTED_TREE = [
    # (type, name, parent name)
    (COMPONENT + "CalicoMonitoring", "calico-monitoring", ""),
    (COMPONENT + "FelixMetrics", "calico-monitoring-felix", "calico-monitoring"),
    (COMMAND, "calico-monitoring-felix-calicoctl-patch", "calico-monitoring-felix"),
    (PROVIDER, "calico-monitoring-kubernetes", "calico-monitoring"),
    # Reads of what the cluster must have (CRDs, calico-node), so a preview fails early.
    (COMPONENT + "ClusterPrerequisites", "calico-monitoring-prerequisites", "calico-monitoring"),
    # Helm's lookup of each object the stack creates: someone else's of the same name fails the preview.
    (
        "kubernetes:helm.sh/v4:Chart",
        "calico-monitoring-prerequisites-objects-in-the-way",
        "calico-monitoring-prerequisites",
    ),
    (COMPONENT + "CalicoNodeMetricsPort", "calico-monitoring-felix-calico-node-port", "calico-monitoring-felix"),
    (
        PATCH,
        "calico-monitoring-felix-calico-node-port-daemonset-patch",
        "calico-monitoring-felix-calico-node-port",
    ),
    # Destroy gives the patch's fields back through it, after checking that calico-node still exists.
    (
        "pulumi-python:dynamic/calico-monitoring:PatchRelease",
        "calico-monitoring-felix-calico-node-port-daemonset-patch-release",
        "calico-monitoring-felix-calico-node-port",
    ),
    (COMPONENT + "FelixPodMonitor", "calico-monitoring-felix-monitor", "calico-monitoring-felix"),
    (PODMONITOR, "calico-monitoring-felix-monitor-podmonitor", "calico-monitoring-felix-monitor"),
    # Defaults beyond the tutorial: calico-kube-controllers' metrics and the alerts.
    (COMPONENT + "KubeControllersMetrics", "calico-monitoring-kube-controllers", "calico-monitoring"),
    (COMMAND, "calico-monitoring-kube-controllers-calicoctl-patch", "calico-monitoring-kube-controllers"),
    (
        "kubernetes:apps/v1:DeploymentPatch",
        "calico-monitoring-kube-controllers-deployment-patch",
        "calico-monitoring-kube-controllers",
    ),
    (
        "pulumi-python:dynamic/calico-monitoring:PatchRelease",
        "calico-monitoring-kube-controllers-deployment-patch-release",
        "calico-monitoring-kube-controllers",
    ),
    (PODMONITOR, "calico-monitoring-kube-controllers-podmonitor", "calico-monitoring-kube-controllers"),
    (COMPONENT + "CalicoAlerts", "calico-monitoring-alerts", "calico-monitoring"),
    (
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
        "calico-monitoring-alerts-prometheusrule",
        "calico-monitoring-alerts",
    ),
    (COMPONENT + "CalicoDashboards", "calico-monitoring-dashboards", "calico-monitoring"),
    ("kubernetes:core/v1:ConfigMap", "calico-monitoring-dashboards-felix", "calico-monitoring-dashboards"),
    ("kubernetes:core/v1:ConfigMap", "calico-monitoring-dashboards-kube-controllers", "calico-monitoring-dashboards"),
]

# The tutorial's DaemonSet edit: containerPort 9091 named http-metrics on the calico-node container.
TUTORIAL_PORT_PATCH = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {
        "name": "calico-node",
        "namespace": "kube-system",
        "annotations": {"pulumi.com/skipAwait": "true"},
    },
    "spec": {
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "calico-node",
                        "ports": [{"containerPort": 9091, "name": "http-metrics", "protocol": "TCP"}],
                    }
                ]
            }
        }
    },
}

# The tutorial's PodMonitor, with the release label of the example stacks and the node relabeling.
TUTORIAL_PODMONITOR = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PodMonitor",
    "metadata": {
        "name": "felix",
        "namespace": "monitoring",
        "labels": {"k8s-app": "calico-node", "release": "kube-prometheus-stack"},
    },
    "spec": {
        "podMetricsEndpoints": [
            {
                "interval": "15s",
                "path": "/metrics",
                "port": "http-metrics",
                "relabelings": [
                    {
                        "action": "replace",
                        "sourceLabels": ["__meta_kubernetes_pod_node_name"],
                        "targetLabel": "node",
                    }
                ],
            }
        ],
        "namespaceSelector": {"matchNames": ["kube-system"]},
        "selector": {"matchLabels": {"k8s-app": "calico-node"}},
    },
}

EMPTY_ETCD = {
    "ETCD_CA_CERT": "",
    "ETCD_CA_CERT_FILE": "",
    "ETCD_CERT": "",
    "ETCD_CERT_FILE": "",
    "ETCD_ENDPOINTS": "",
    "ETCD_KEY": "",
    "ETCD_KEY_FILE": "",
    "ETCD_PASSWORD": "",
    "ETCD_USERNAME": "",
}


# Provider settings travel as strings. Every flag is pinned so no machine's
# PULUMI_K8S_* or KUBECONFIG variables leak into the inputs; kubeconfig "" = default lookup.
PINNED_PROVIDER_FLAGS = {
    "enableServerSideApply": "true",
    "enableConfigMapMutable": "true",
    "enableSecretMutable": "false",
    "suppressDeprecationWarnings": "false",
    "suppressHelmHookWarnings": "false",
    "kubeconfig": "",
}


def felix_command(evaluation):
    return evaluation.named("calico-monitoring-felix-calicoctl-patch")


def connection(evaluation):
    return reveal(felix_command(evaluation).inputs["connection"])


def tree(evaluation):
    names = {r.urn: r.name for r in evaluation.registrations}
    # Registration order is up to the engine's scheduling; the order that matters is in the dependencies.
    return sorted((r.type, r.name, names.get(r.parent, "")) for r in evaluation.registrations)


@pytest.mark.parametrize("stack", ["example-kdd", "example-etcd"])
def test_example_stack_registers_the_four_components_in_order(stack):
    evaluation = evaluate(stack_file_config(stack))
    assert tree(evaluation) == sorted(EXPECTED_TREE)
    assert evaluation.one(PATCH).plain_inputs == TUTORIAL_PORT_PATCH
    felix_monitor = next(r for r in evaluation.by_type(PODMONITOR) if r.name.startswith("calico-monitoring-felix"))
    assert felix_monitor.plain_inputs == TUTORIAL_PODMONITOR

    command = felix_command(evaluation)
    # A reviewer reads the exact patch and connection settings in the preview.
    assert command.plain_inputs["kind"] == "felixConfiguration"
    assert command.plain_inputs["resourceName"] == "default"
    assert command.plain_inputs["patch"] == {"spec": {"prometheusMetricsEnabled": True, "prometheusMetricsPort": 9091}}
    assert command.plain_inputs["connection"]["DATASTORE_TYPE"] == {"example-kdd": "kubernetes"}.get(stack, "etcdv3")

    # Order: the port patch waits for Felix, the PodMonitor waits for the port.
    port_component = evaluation.one(COMPONENT + "CalicoNodeMetricsPort")
    monitor_component = evaluation.one(COMPONENT + "FelixPodMonitor")
    assert port_component.dependencies == [command.urn]
    assert evaluation.one(PATCH).urn in monitor_component.dependencies

    # Nothing is applied before the prerequisites are found, the preflight lookups among them.
    preflight = evaluation.one("kubernetes:helm.sh/v4:Chart")
    assert preflight.urn in evaluation.one(COMPONENT + "FelixMetrics").dependencies
    assert preflight.urn in evaluation.one(COMPONENT + "CalicoDashboards").dependencies

    provider = evaluation.one(PROVIDER)
    for kubernetes_resource in evaluation.registrations:
        if kubernetes_resource.type.startswith("kubernetes:"):
            assert kubernetes_resource.provider.startswith(provider.urn + "::")


def test_kdd_example_inputs():
    evaluation = evaluate(stack_file_config("example-kdd"))
    assert evaluation.one(PROVIDER).plain_inputs == {**PINNED_PROVIDER_FLAGS, "context": "prod-eu-1"}
    assert connection(evaluation) == {
        **EMPTY_ETCD,
        "CALICO_MONITORING_KUBECONFIG_CONTENT": "",
        "DATASTORE_TYPE": "kubernetes",
        "K8S_CURRENT_CONTEXT": "prod-eu-1",
    }


def test_etcd_example_inputs():
    evaluation = evaluate(stack_file_config("example-etcd"))
    assert evaluation.one(PROVIDER).plain_inputs == {**PINNED_PROVIDER_FLAGS, "context": "onprem-1"}
    assert connection(evaluation) == {
        **EMPTY_ETCD,
        "CALICO_MONITORING_KUBECONFIG_CONTENT": "",
        "DATASTORE_TYPE": "etcdv3",
        "ETCD_ENDPOINTS": "https://192.168.57.51:2379,https://192.168.57.52:2379,https://192.168.57.53:2379",
        "ETCD_KEY_FILE": "/opt/kubernetes/ssl/server-key.pem",
        "ETCD_CERT_FILE": "/opt/kubernetes/ssl/server.pem",
        "ETCD_CA_CERT_FILE": "/opt/kubernetes/ssl/ca.pem",
        "K8S_CURRENT_CONTEXT": "",
        "KUBECONFIG": "",
    }


def test_stack_outputs_come_from_what_calicoctl_read_back():
    applied = {"spec": {"prometheusMetricsEnabled": True, "prometheusMetricsPort": 9091}}

    def command_stdout(args):
        if args.typ == COMMAND:
            return {"applied": applied}
        if args.typ == "kubernetes:apps/v1:DaemonSet":
            # The DaemonSet read right after the patch: the controller has not caught up yet.
            return {"metadata": {"generation": 3}, "status": {"observedGeneration": 2, "desiredNumberScheduled": 5}}
        return {}

    evaluation = evaluate(stack_file_config("example-kdd"), outputs=command_stdout)
    assert evaluation.stack_outputs == {
        "felixMetrics": applied,
        # The mock gives every calicoctl step the same stdout.
        "kubeControllersMetrics": applied,
        "scrapeJobs": {"felix": "monitoring/felix", "kube-controllers": "monitoring/calico-kube-controllers"},
        "calicoNodeRollout": {
            "generation": 3,
            "observedGeneration": 2,
            "desiredNumberScheduled": 5,
            "updatedNumberScheduled": 0,
            "complete": False,
        },
    }


SECRETS = {
    "key": "-----BEGIN EC PRIVATE KEY-----\nKEYDATA\n-----END EC PRIVATE KEY-----\n",
    "cert": "-----BEGIN CERTIFICATE-----\nCERTDATA\n-----END CERTIFICATE-----\n",
    "caCert": "-----BEGIN CERTIFICATE-----\nCADATA\n-----END CERTIFICATE-----\n",
    "password": "correct horse battery staple",
}


def plain_strings(value):
    """Every string reachable without passing through a secret marker."""
    if isinstance(value, SecretInput):
        return
    if isinstance(value, dict):
        for item in value.values():
            yield from plain_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from plain_strings(item)
    elif isinstance(value, str):
        yield value


def test_inline_etcd_secrets_stay_secret_everywhere():
    datastore = {"type": "etcdv3", "endpoints": ["https://10.0.0.1:2379"], "username": "calico", **SECRETS}
    config = {"kubernetes:context": "c", "calico-monitoring:datastore": datastore}
    evaluation = evaluate(config, secret_keys=["calico-monitoring:datastore"])
    environment = connection(evaluation)
    for variable, name in (("ETCD_KEY", "key"), ("ETCD_CERT", "cert"), ("ETCD_CA_CERT", "caCert")):
        assert felix_command(evaluation).inputs["connection"][variable] == SecretInput(SECRETS[name])
        assert environment[variable] == SECRETS[name]
    assert felix_command(evaluation).inputs["connection"]["ETCD_PASSWORD"] == SecretInput(SECRETS["password"])
    for registration in evaluation.registrations:
        for text in plain_strings(registration.inputs):
            for secret in ("KEYDATA", "CERTDATA", "CADATA", SECRETS["password"]):
                assert secret not in text, f"{secret} in plain input of {registration.name}"
    assert not any(s in repr(evaluation.stack_outputs) for s in ("KEYDATA", SECRETS["password"]))


def test_inline_kubeconfig_is_secret_for_provider_and_calicoctl():
    content = "apiVersion: v1\nkind: Config\ncurrent-context: ci\nusers: [{name: u, user: {token: TOKEN}}]\n"
    config = {"kubernetes:kubeconfig": content, "calico-monitoring:datastore": {"type": "kubernetes"}}
    evaluation = evaluate(config, secret_keys=["kubernetes:kubeconfig"])
    assert evaluation.one(PROVIDER).inputs["kubeconfig"] == SecretInput(content)
    environment = connection(evaluation)
    assert environment["CALICO_MONITORING_KUBECONFIG_CONTENT"] == content
    assert felix_command(evaluation).inputs["connection"]["CALICO_MONITORING_KUBECONFIG_CONTENT"] == SecretInput(
        content
    )
    assert environment["K8S_CURRENT_CONTEXT"] == "ci"
    # The PatchReleases reach the cluster with the same kubeconfig text, kept secret.
    releases = evaluation.by_type("pulumi-python:dynamic/calico-monitoring:PatchRelease")
    assert releases and all(r.inputs["connection"]["kubeconfig"] == SecretInput(content) for r in releases)
    for registration in evaluation.registrations:
        assert not any("TOKEN" in text for text in plain_strings(registration.inputs))


BAD_STACKS = [
    ({"calico-monitoring:datastore": {"type": "consul"}}, 'calico-monitoring:datastore.type: got "consul"'),
    (
        {"kubernetes:context": "c", "calico-monitoring:datastore": {"type": "etcdv3", "endpoints": ["not a url"]}},
        'calico-monitoring:datastore.endpoints[0]: got "not a url"',
    ),
    (
        {
            "kubernetes:context": "c",
            "calico-monitoring:datastore": {"type": "kubernetes"},
            "calico-monitoring:felix": {"metricsPort": 70000},
        },
        "calico-monitoring:felix.metricsPort: got 70000",
    ),
    (
        {
            "kubernetes:context": "c",
            "calico-monitoring:datastore": {"type": "kubernetes"},
            "calico-monitoring:podMonitor": {"interval": "fast"},
        },
        'calico-monitoring:podMonitor.interval: got "fast"',
    ),
    ({"calico-monitoring:datastore": {"type": "kubernetes"}}, "pin it with `pulumi config set kubernetes:context"),
]


@pytest.mark.parametrize(("config", "message"), BAD_STACKS)
def test_bad_stack_config_stops_before_any_resource(config, message):
    evaluation = Evaluation()
    with pytest.raises(RunError) as error:
        evaluate(config, into=evaluation)
    assert message in str(error.value)
    assert evaluation.registrations == []


# Resources whose URN changed since release 0.2: new name -> the tail of its old URN.
_ROOT = "calico-monitoring:index:CalicoMonitoring"
_PORT = f"{_ROOT}$calico-monitoring:index:CalicoNodeMetricsPort"
_POD_MONITOR = f"{_ROOT}$calico-monitoring:index:FelixPodMonitor"
_SERVICE_MONITOR = f"{_ROOT}$calico-monitoring:index:MetricsServiceMonitor"
RELEASE_0_2_NAMES = {
    "example-kdd": {
        "calico-monitoring-felix-calico-node-port": f"{_PORT}::calico-monitoring-calico-node-port",
        "calico-monitoring-felix-calico-node-port-daemonset-patch": f"{_PORT}$kubernetes:apps/v1:DaemonSetPatch"
        "::calico-monitoring-calico-node-port-daemonset-patch",
        "calico-monitoring-felix-monitor": f"{_POD_MONITOR}::calico-monitoring-felix-podmonitor",
        "calico-monitoring-felix-monitor-podmonitor": f"{_POD_MONITOR}$kubernetes:monitoring.coreos.com/v1:PodMonitor"
        "::calico-monitoring-felix-podmonitor-podmonitor",
    },
    "example-operator": {
        "calico-monitoring-felix-monitor": f"{_SERVICE_MONITOR}::calico-monitoring-felix-monitor",
        "calico-monitoring-felix-monitor-service": f"{_SERVICE_MONITOR}$kubernetes:core/v1:Service"
        "::calico-monitoring-felix-monitor-service",
        "calico-monitoring-felix-monitor-servicemonitor": f"{_SERVICE_MONITOR}"
        "$kubernetes:monitoring.coreos.com/v1:ServiceMonitor::calico-monitoring-felix-monitor-servicemonitor",
    },
}


@pytest.mark.parametrize("stack", sorted(RELEASE_0_2_NAMES))
def test_resources_that_moved_since_release_0_2_alias_their_old_urns(stack):
    """The e2e upgrade scenario proves the aliases on the real engine; this names them."""
    evaluation = evaluate(stack_file_config(stack))
    aliased = {r.name: r.aliases for r in evaluation.registrations if r.aliases}
    assert set(aliased) == set(RELEASE_0_2_NAMES[stack])
    for name, tail in RELEASE_0_2_NAMES[stack].items():
        assert len(aliased[name]) == 1
        assert aliased[name][0].endswith(tail), (name, aliased[name][0])


def test_a_program_passes_its_own_kubernetes_provider_through_opts():
    def program():
        provider = k8s.Provider("platform-cluster", kubeconfig="")
        CalicoMonitoring("calico", load_settings(), opts=pulumi.ResourceOptions(providers=[provider]))

    evaluation = evaluate(stack_file_config("example-kdd"), program=program)
    assert [r.name for r in evaluation.by_type(PROVIDER)] == ["platform-cluster"]
    provider = evaluation.one(PROVIDER)
    kubernetes = [r for r in evaluation.registrations if r.type.startswith("kubernetes:")]
    assert len(kubernetes) >= 4
    for resource in kubernetes:
        assert resource.provider.startswith(provider.urn + "::"), resource.name
