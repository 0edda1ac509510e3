"""prometheusSelection on the real engine and API server: with a kube-prometheus-stack-shaped Prometheus in the
cluster, `pulumi preview` fails when it would not select the stack's monitors or rule, naming them, the
Prometheus, what it selects and the setting that fixes it; a rule-selector and a namespace-selector mismatch
fail each on their own; `warn` and `off` pass. One cluster: every step is a preview, which changes nothing."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.e2e.test_manifest_install import example_config

pytestmark = pytest.mark.e2e

RELEASE = {"release": "kube-prometheus-stack"}
PROMETHEUS = "monitoring/kube-prometheus-stack-prometheus"


def kube_prometheus_stack_prometheus() -> dict:
    """The Prometheus object kube-prometheus-stack makes for a release of that name (no operator runs it here)."""
    selector = {"matchLabels": RELEASE}
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Prometheus",
        "metadata": {"name": "kube-prometheus-stack-prometheus", "namespace": "monitoring"},
        "spec": {
            "podMonitorSelector": selector,
            "podMonitorNamespaceSelector": {},
            "serviceMonitorSelector": selector,
            "serviceMonitorNamespaceSelector": {},
            "ruleSelector": selector,
            "ruleNamespaceSelector": {},
        },
    }


def use_config(stack, cluster, config: dict) -> None:
    """The stack's settings replaced, as prepare_stack writes them."""
    stack_file = {"config": {**config, "kubernetes:kubeconfig": str(cluster.kubeconfig)}}
    (stack.project / f"Pulumi.{stack.name}.yaml").write_text(yaml.safe_dump(stack_file, sort_keys=True))


def failed_preview(stack) -> str:
    result = stack.preview(check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    return output


def assert_lines(output: str, lines: list[str]) -> None:
    """Each line of the message, as the CLI prints it (a multi-line message comes indented)."""
    missing = [line for line in lines if line.strip() not in output]
    assert not missing, f"missing {missing} in:\n{output[-4000:]}"


def test_preview_fails_unless_a_prometheus_selects_the_monitors_and_the_rule(make_cluster, make_stack):
    cluster = make_cluster()
    cluster.kubectl("apply", "-f", "-", input=json.dumps(kube_prometheus_stack_prometheus()))
    labelled = example_config("example-kdd")
    assert labelled["calico-monitoring:podMonitor"] == {"labels": RELEASE}
    unlabelled = {key: value for key, value in labelled.items() if key != "calico-monitoring:podMonitor"}
    stack = make_stack(cluster, unlabelled)

    # No label: neither the monitors nor the rule are selected.
    output = failed_preview(stack)
    fix = "fix: `pulumi config set --path calico-monitoring:{}.labels.release kube-prometheus-stack`"
    assert_lines(
        output,
        [
            "no Prometheus in the cluster selects these objects this stack creates, so Prometheus would never use "
            "them:",
            "- PodMonitor monitoring/felix (labels k8s-app=calico-node):",
            f"Prometheus {PROMETHEUS} selects PodMonitors labelled release=kube-prometheus-stack in every namespace; "
            + fix.format("podMonitor"),
            "- PodMonitor monitoring/calico-kube-controllers (labels k8s-app=calico-kube-controllers):",
            "- PrometheusRule monitoring/calico (labels app.kubernetes.io/managed-by=calico-monitoring):",
            f"Prometheus {PROMETHEUS} selects PrometheusRules labelled release=kube-prometheus-stack in every "
            "namespace; " + fix.format("alerts"),
            "If the Prometheus that should use them is not in this cluster: "
            "`pulumi config set calico-monitoring:prometheusSelection off`.",
        ],
    )

    # The fix it names; the rule's labels follow podMonitor's.
    use_config(stack, cluster, labelled)
    stack.preview()

    # Only the rule's selector left out: only the rule is named.
    use_config(stack, cluster, {**labelled, "calico-monitoring:alerts": {"labels": {"role": "alert-rules"}}})
    output = failed_preview(stack)
    assert_lines(output, ["- PrometheusRule monitoring/calico (labels app.kubernetes.io/managed-by=calico-monitoring,"])
    assert "- PodMonitor" not in output

    # Only the monitors' namespace left out: only the monitors are named, until the namespace has the labels.
    use_config(stack, cluster, labelled)
    watched = {"spec": {"podMonitorNamespaceSelector": {"matchLabels": {"monitoring": "calico"}}}}
    cluster.kubectl(
        "patch", "prometheus", "kube-prometheus-stack-prometheus", "-n", "monitoring", "--type=merge",
        "-p", json.dumps(watched),
    )  # fmt: skip
    output = failed_preview(stack)
    assert_lines(
        output,
        [
            "- PodMonitor monitoring/felix (labels k8s-app=calico-node,release=kube-prometheus-stack):",
            f"Prometheus {PROMETHEUS} selects PodMonitors labelled release=kube-prometheus-stack in namespaces "
            "labelled monitoring=calico; fix: a namespace labelled monitoring=calico in "
            "calico-monitoring:podMonitor.namespace (or those labels on namespace monitoring)",
        ],
    )
    assert "- PrometheusRule" not in output
    cluster.kubectl("label", "namespace", "monitoring", "monitoring=calico")
    stack.preview()

    # warn and off let a stack no Prometheus selects through; warn says what a Prometheus must select.
    use_config(stack, cluster, {**unlabelled, "calico-monitoring:prometheusSelection": "warn"})
    warned = stack.preview()
    assert_lines(
        warned.stdout + warned.stderr,
        [
            "calico-monitoring:prometheusSelection is warn, so the preview did not check that a Prometheus of the "
            "cluster selects these objects this stack creates;",
            "- PodMonitor monitoring/felix (labels k8s-app=calico-node): podMonitorSelector, "
            "podMonitorNamespaceSelector",
        ],
    )
    use_config(stack, cluster, {**unlabelled, "calico-monitoring:prometheusSelection": "off"})
    silent = stack.preview()
    assert "prometheusSelection" not in silent.stdout + silent.stderr
