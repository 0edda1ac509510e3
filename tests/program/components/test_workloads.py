"""Every way Calico is installed: manifest with port patch, manifest restart-free, operator.

For each setup, the exact Kubernetes objects, the selectors and ports they use, and
prometheus-operator objects that are valid against the CRD models.
"""

import pytest

from tests.support.crd_schema import validate_monitoring_object
from tools.evaluator.mock_engine import evaluate

BASE = {"kubernetes:context": "c", "calico-monitoring:datastore": {"type": "kubernetes"}}
PREFIX = "calico-monitoring:"
MONITORING = ("PodMonitor", "ServiceMonitor", "PrometheusRule")
PREFLIGHT_CHART = "kubernetes:helm.sh/v4:Chart"  # renders no object: its lookups are read below


def objects(config):
    """kind/namespace/name -> plain inputs of every Kubernetes object, and the calicoctl targets."""
    evaluation = evaluate({**BASE, **{PREFIX + k: v for k, v in config.items()}})
    found, calicoctl = {}, set()
    for r in evaluation.registrations:
        if r.type.startswith("kubernetes:") and r.type != PREFLIGHT_CHART:
            manifest = r.plain_inputs
            kind = r.type.split(":")[-1]
            found[f"{kind}/{manifest['metadata'].get('namespace', '')}/{manifest['metadata']['name']}"] = manifest
        elif r.type == "pulumi-python:dynamic/calico-monitoring:CalicoctlPatch":
            calicoctl.add(f"{r.plain_inputs['kind']} {r.plain_inputs['resourceName']}")
    return found, calicoctl


def preflight_lookups(config) -> list[str]:
    """kind/namespace/name of each object the preflight chart looks up, in its order."""
    evaluation = evaluate({**BASE, **{PREFIX + k: v for k, v in config.items()}})
    [chart] = [r for r in evaluation.registrations if r.type == PREFLIGHT_CHART]
    return [f"{o['kind']}/{o['namespace']}/{o['name']}" for o in chart.plain_inputs["values"]["objects"]]


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"typha": {"enabled": True}},
        {"felix": {"scrape": "service"}, "typha": {"enabled": True}},
        {"install": "operator", "typha": {"enabled": True}},
        {"podMonitor": {"name": "calico-felix", "namespace": "observability"}, "alerts": {"name": "calico"}},
        {"typha": {"enabled": True, "monitor": {"enabled": False}}, "dashboards": {"enabled": False}},
    ],
    ids=["defaults", "typha", "service-scrape", "operator", "renamed", "fewer"],
)
def test_the_preflight_check_looks_up_every_object_the_stack_creates_and_no_patch(config):
    found, _ = objects(config)
    created = sorted(key for key in found if not key.split("/")[0].endswith("Patch"))
    lookups = preflight_lookups(config)
    assert sorted(lookups) == created
    assert len(set(lookups)) == len(lookups)


def test_manifest_install_with_port_patches():
    found, calicoctl = objects({"typha": {"enabled": True}})
    assert sorted(found) == [
        "ConfigMap/monitoring/calico-dashboard-felix",
        "ConfigMap/monitoring/calico-dashboard-kube-controllers",
        "ConfigMap/monitoring/calico-dashboard-typha",
        "DaemonSetPatch/kube-system/calico-node",
        "DeploymentPatch/kube-system/calico-kube-controllers",
        "DeploymentPatch/kube-system/calico-typha",
        "PodMonitor/monitoring/calico-kube-controllers",
        "PodMonitor/monitoring/calico-typha",
        "PodMonitor/monitoring/felix",
        "PrometheusRule/monitoring/calico",
    ]
    assert calicoctl == {"felixConfiguration default", "kubeControllersConfiguration default"}
    typha = found["DeploymentPatch/kube-system/calico-typha"]["spec"]["template"]["spec"]["containers"]
    assert typha == [
        {
            "name": "calico-typha",
            "env": [
                {"name": "TYPHA_PROMETHEUSMETRICSENABLED", "value": "true"},
                {"name": "TYPHA_PROMETHEUSMETRICSPORT", "value": "9093"},
            ],
            "ports": [{"containerPort": 9093, "name": "http-metrics", "protocol": "TCP"}],
        }
    ]
    controllers = found["DeploymentPatch/kube-system/calico-kube-controllers"]["spec"]["template"]["spec"]
    assert controllers["containers"] == [
        {
            "name": "calico-kube-controllers",
            "ports": [{"containerPort": 9094, "name": "http-metrics", "protocol": "TCP"}],
        }
    ]
    # Pods carry k8s-app: <workload> in Calico's manifests; each PodMonitor selects that and the declared port.
    for name, app in (("calico-typha", "calico-typha"), ("calico-kube-controllers", "calico-kube-controllers")):
        spec = found[f"PodMonitor/monitoring/{name}"]["spec"]
        assert spec["selector"] == {"matchLabels": {"k8s-app": app}}
        assert spec["namespaceSelector"] == {"matchNames": ["kube-system"]}
        assert spec["podMetricsEndpoints"][0]["port"] == "http-metrics"


def test_manifest_install_without_restarting_calico_node():
    found, calicoctl = objects({"felix": {"scrape": "service"}})
    assert sorted(found) == [
        "ConfigMap/monitoring/calico-dashboard-felix",
        "ConfigMap/monitoring/calico-dashboard-kube-controllers",
        "PrometheusRule/monitoring/calico",
        "Service/kube-system/calico-monitoring-calico-kube-controllers",
        "Service/kube-system/calico-monitoring-felix",
        "ServiceMonitor/monitoring/calico-kube-controllers",
        "ServiceMonitor/monitoring/felix",
    ]
    assert calicoctl == {"felixConfiguration default", "kubeControllersConfiguration default"}
    service = found["Service/kube-system/calico-monitoring-felix"]["spec"]
    assert service == {
        "clusterIP": "None",
        "selector": {"k8s-app": "calico-node"},
        "ports": [{"name": "http-metrics", "port": 9091, "targetPort": 9091, "protocol": "TCP"}],
    }
    monitor = found["ServiceMonitor/monitoring/felix"]["spec"]
    service_labels = found["Service/kube-system/calico-monitoring-felix"]["metadata"]["labels"]
    assert monitor["selector"]["matchLabels"].items() <= service_labels.items()
    assert monitor["namespaceSelector"] == {"matchNames": ["kube-system"]}
    endpoint = monitor["endpoints"][0]
    assert endpoint["port"] == "http-metrics"
    # Same job as the PodMonitor would give, so switching modes keeps dashboards and alerts working.
    assert {"action": "replace", "targetLabel": "job", "replacement": "monitoring/felix"} in endpoint["relabelings"]


def test_operator_install_patches_no_workload():
    found, calicoctl = objects({"install": "operator"})
    assert sorted(found) == [
        "ConfigMap/monitoring/calico-dashboard-felix",
        "ConfigMap/monitoring/calico-dashboard-kube-controllers",
        "ConfigMap/monitoring/calico-dashboard-typha",
        "InstallationPatch//default",
        "PrometheusRule/monitoring/calico",
        "Service/calico-system/calico-monitoring-felix",
        "ServiceMonitor/monitoring/calico-kube-controllers",
        "ServiceMonitor/monitoring/calico-typha",
        "ServiceMonitor/monitoring/felix",
    ]
    assert not any(key.startswith(("DaemonSetPatch", "DeploymentPatch")) for key in found)
    assert calicoctl == {"felixConfiguration default", "kubeControllersConfiguration default"}
    installation = found["InstallationPatch//default"]
    assert installation["apiVersion"] == "operator.tigera.io/v1"
    assert installation["spec"] == {"typhaMetricsPort": 9093}
    # The operator's Services: calico-typha-metrics (k8s-app: calico-typha-metrics, port calico-typha-metrics)
    # and calico-kube-controllers-metrics (k8s-app: calico-kube-controllers, port metrics-port).
    typha = found["ServiceMonitor/monitoring/calico-typha"]["spec"]
    assert typha["selector"] == {"matchLabels": {"k8s-app": "calico-typha-metrics"}}
    assert typha["namespaceSelector"] == {"matchNames": ["calico-system"]}
    assert typha["endpoints"][0]["port"] == "calico-typha-metrics"
    controllers = found["ServiceMonitor/monitoring/calico-kube-controllers"]["spec"]
    assert controllers["selector"] == {"matchLabels": {"k8s-app": "calico-kube-controllers"}}
    assert controllers["endpoints"][0]["port"] == "metrics-port"
    assert found["Service/calico-system/calico-monitoring-felix"]["spec"]["selector"] == {"k8s-app": "calico-node"}


def test_operator_install_refuses_the_calico_node_patch():
    with pytest.raises(
        Exception, match=r"calico-monitoring:felix.scrape: got \"pod\"; expected \"service\" with install"
    ):
        objects({"install": "operator", "felix": {"scrape": "pod"}})


@pytest.mark.parametrize(
    "config",
    [
        {"typha": {"enabled": True}},
        {"typha": {"enabled": True}, "felix": {"scrape": "service"}},
        {"install": "operator"},
        {"install": "operator", "podMonitor": {"labels": {"release": "kps"}, "scrapeTimeout": "10s"}},
    ],
    ids=["manifest-pod", "manifest-service", "operator", "operator-labels"],
)
def test_monitoring_objects_are_valid_for_the_prometheus_operator_crds(config):
    found, _ = objects(config)
    checked = [validate_monitoring_object(m) or key for key, m in found.items() if key.startswith(MONITORING)]
    assert len(checked) >= 4


def test_components_can_be_switched_off():
    found, calicoctl = objects(
        {"kubeControllers": {"enabled": False}, "alerts": {"enabled": False}, "dashboards": {"enabled": False}}
    )
    assert sorted(found) == ["DaemonSetPatch/kube-system/calico-node", "PodMonitor/monitoring/felix"]
    assert calicoctl == {"felixConfiguration default"}
    found, _ = objects({"install": "operator", "typha": {"enabled": False}})
    assert "InstallationPatch//default" not in found and "ServiceMonitor/monitoring/calico-typha" not in found


def test_jobs_match_what_dashboards_and_alerts_expect():
    from alerts import DEFAULT_JOBS

    found, _ = objects({"install": "operator"})
    rules = found["PrometheusRule/monitoring/calico"]["spec"]["groups"]
    exprs = " ".join(rule["expr"] for group in rules for rule in group["rules"])
    for job in DEFAULT_JOBS.values():
        assert f'job="{job}"' in exprs
    for component, job in DEFAULT_JOBS.items():
        name = job.split("/")[1]
        relabelings = found[f"ServiceMonitor/monitoring/{name}"]["spec"]["endpoints"][0]["relabelings"]
        assert {"action": "replace", "targetLabel": "job", "replacement": job} in relabelings, component


def test_render_yaml_to_writes_manifests_and_calicoctl_scripts_instead_of_applying():
    config = {
        **BASE,
        PREFIX + "renderYamlTo": "gitops/prod",
        PREFIX + "felix": {"scrape": "service"},
    }
    evaluation = evaluate(config)
    provider = next(r for r in evaluation.registrations if r.type == "pulumi:providers:kubernetes")
    assert provider.plain_inputs["renderYamlToDirectory"] == "gitops/prod/manifests"
    # The provider refuses a context or kubeconfig in render mode (proven in tests/e2e/test_render.py).
    assert "context" not in provider.plain_inputs and provider.plain_inputs["kubeconfig"] == ""
    felix = evaluation.named("calico-monitoring-felix-calicoctl-patch")
    # Nothing to connect to: the provider writes the standalone scripts (tests/unit/calicoctl/test_provider.py).
    assert felix.plain_inputs["connection"] == {}
    assert felix.plain_inputs["renderTo"] == "gitops/prod"
    assert felix.plain_inputs["applyScript"].startswith("#!/bin/sh\n")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, 'renderYamlTo: with felix.scrape "pod" this program would patch calico-node'),
        ({"felix": {"scrape": "service"}, "typha": {"enabled": True}}, "set calico-monitoring:typha.enabled to false"),
    ],
)
def test_render_yaml_to_refuses_patches(config, message):
    with pytest.raises(Exception, match=message):
        objects({"renderYamlTo": "out", **config})


def test_without_alerts_the_dashboards_still_get_their_recording_rules():
    found, _ = objects({"alerts": {"enabled": False}})
    groups = found["PrometheusRule/monitoring/calico"]["spec"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert rules and all("record" in rule and "alert" not in rule for rule in rules)
    found, _ = objects({"alerts": {"enabled": False}, "dashboards": {"enabled": False}})
    assert "PrometheusRule/monitoring/calico" not in found


def test_typha_patch_lists_the_live_entries_first_as_server_side_apply_keeps_them():
    from builders.manifests import align_with_live, typha_patch
    from configuration import parse_settings

    settings = parse_settings({**BASE, PREFIX + "typha": {"enabled": True}}, set())
    patch = typha_patch(settings.typha, declare_port=True)
    live = {
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "calico-typha",
                        "env": [
                            {"name": "TYPHA_LOGSEVERITYSCREEN", "value": "info"},
                            {"name": "TYPHA_PROMETHEUSMETRICSPORT", "value": "9000"},  # ours, from an earlier run
                        ],
                        # Read back through the SDK, some keys arrive in snake_case.
                        "ports": [{"container_port": 5473, "name": "calico-typha", "protocol": "TCP"}],
                    }
                ]
            }
        }
    }
    [container] = align_with_live(patch, live)["template"]["spec"]["containers"]
    assert [e["name"] for e in container["env"]] == [
        "TYPHA_LOGSEVERITYSCREEN",
        "TYPHA_PROMETHEUSMETRICSENABLED",
        "TYPHA_PROMETHEUSMETRICSPORT",
    ]
    assert container["env"][-1]["value"] == "9093"
    assert [p["containerPort"] for p in container["ports"]] == [5473, 9093]
    # Nothing live (first preview of a missing read, or the mock engine): the patch as it is.
    assert align_with_live(patch, None) == patch["spec"]


@pytest.mark.parametrize(
    ("metadata", "status", "complete"),
    [
        ({"generation": 4}, {"observedGeneration": 4, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3}, True),
        ({"generation": 4}, {"observedGeneration": 3, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3}, False),
        (
            {"generation": 4},
            {"observed_generation": 4, "desired_number_scheduled": 3, "updated_number_scheduled": 1},
            False,
        ),
        (None, None, False),
    ],
)
def test_rollout_status(metadata, status, complete):
    from builders.manifests import rollout_status

    assert rollout_status(metadata, status)["complete"] is bool(complete)


RELEASE = "pulumi-python:dynamic/calico-monitoring:PatchRelease"


@pytest.mark.parametrize(
    "config",
    [{"typha": {"enabled": True}}, {"install": "operator", "typha": {"enabled": True}}],
    ids=["manifest", "operator"],
)
def test_every_patch_is_deleted_with_a_release_of_the_object_it_patches(config):
    evaluation = evaluate({**BASE, **{PREFIX + k: v for k, v in config.items()}})
    releases = {r.urn: r for r in evaluation.by_type(RELEASE)}
    patches = [r for r in evaluation.registrations if r.type.startswith("kubernetes:") and r.type.endswith("Patch")]
    assert patches and len(releases) == len(patches)
    for patch in patches:
        release = releases[patch.deleted_with]
        assert release.name == f"{patch.name}-release"
        target = release.plain_inputs["target"]
        metadata = patch.plain_inputs["metadata"]
        assert (target["name"], target["namespace"]) == (metadata["name"], metadata.get("namespace"))
        assert patch.type.split(":")[-1] == target["kind"] + "Patch"
        assert release.plain_inputs["connection"] == {"kubeconfigPath": None, "kubeconfig": None, "context": "c"}


def test_render_mode_has_no_release():
    evaluation = evaluate({**BASE, PREFIX + "renderYamlTo": "out", PREFIX + "felix": {"scrape": "service"}})
    assert evaluation.by_type(RELEASE) == []
    assert all(not r.deleted_with for r in evaluation.registrations)
