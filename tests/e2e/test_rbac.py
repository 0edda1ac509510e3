"""The shipped RBAC manifests (rbac/) on the real engine and API server: each install type's
`preview` identity can preview, its `up` identity can up and destroy, and without one of the
rules the run fails naming the verb and resource that was refused."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import ROOT, Cluster
from tests.e2e.test_manifest_install import example_config, spec_of
from tests.e2e.test_prometheus_selection import kube_prometheus_stack_prometheus
from tests.e2e.test_stacks import install_operator_installation

pytestmark = pytest.mark.e2e

RBAC = ROOT / "rbac"
INSTALLS = ("manifest-pod-scrape", "manifest-service-scrape", "operator")


def rbac_documents(install: str, identity: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((RBAC / install / f"{identity}.yaml").read_text()) if d]


def without(documents: list[dict], resource: str, verb: str) -> list[dict]:
    """The documents with ``verb`` taken out of every rule on ``resource`` (a rule left with no verb goes)."""
    documents = copy.deepcopy(documents)
    found = False
    for document in documents:
        rules = []
        for rule in document.get("rules", []):
            if resource in rule["resources"] and verb in rule["verbs"]:
                found = True
                rule["verbs"] = [v for v in rule["verbs"] if v != verb]
            if rule["verbs"]:
                rules.append(rule)
        if "rules" in document:
            document["rules"] = rules
    assert found, f"no rule grants {verb} on {resource}"
    return documents


def apply_rbac(cluster: Cluster, documents: list[dict]) -> None:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(documents))


class Identity:
    """One kubeconfig file for the stack, whose user is switched between the preview and up identities.

    The path never changes, so the provider's inputs do not either; the users are client
    certificates of the test CA in the groups the manifests bind, given by path as in every
    kubeconfig the harness writes.
    """

    def __init__(self, cluster: Cluster, pki, folder: Path) -> None:
        self.cluster, self.path = cluster, folder / "identity.kubeconfig"
        self.users = {}
        for identity in ("preview", "up"):
            group = f"calico-monitoring-{identity}"
            cert, key = pki.issue(f"{cluster.api.name}-{identity}", f"/O={group}/CN={group}-e2e")
            self.users[identity] = {"client-certificate": str(cert), "client-key": str(key)}

    def use(self, identity: str) -> None:
        config = json.loads(self.cluster.kubeconfig.read_text())
        context = next(c for c in config["contexts"] if c["name"] == self.cluster.context)
        for user in config["users"]:
            if user["name"] == context["context"]["user"]:
                user["user"] = self.users[identity]
        self.path.write_text(json.dumps(config, indent=2) + "\n")

    def stack_cluster(self) -> Cluster:
        self.use("preview")
        return dataclasses.replace(self.cluster, kubeconfig=self.path)


def prepare(make_cluster, install: str) -> tuple[Cluster, dict]:
    """A cluster of the install type with a Prometheus object that selects the stack (the selection check reads
    every Prometheus and the monitors' namespace), and the stack's config."""
    if install == "operator":
        cluster = make_cluster()
        install_operator_installation(cluster)
        cluster.kubectl("apply", "-f", "-", input=json.dumps(kube_prometheus_stack_prometheus()))
        return cluster, example_config("example-operator")
    cluster = make_cluster(typha=True)
    cluster.kubectl("apply", "-f", "-", input=json.dumps(kube_prometheus_stack_prometheus()))
    config = example_config("example-kdd")
    config["calico-monitoring:typha"] = {"enabled": True}
    if install == "manifest-service-scrape":
        config["calico-monitoring:felix"] = {"scrape": "service"}
    return cluster, config


@pytest.mark.parametrize("install", INSTALLS)
def test_preview_up_and_destroy_with_exactly_the_shipped_rbac(make_cluster, make_stack, pki, tmp_path, install):
    cluster, config = prepare(make_cluster, install)
    apply_rbac(cluster, rbac_documents(install, "preview") + rbac_documents(install, "up"))
    felix_before = spec_of(cluster, "felixConfiguration")
    controllers_before = spec_of(cluster, "kubeControllersConfiguration")
    identity = Identity(cluster, pki, tmp_path)
    stack = make_stack(identity.stack_cluster(), config)

    stack.preview()
    identity.use("up")
    stack.up()
    assert cluster.calico_resource("felixConfiguration")["spec"]["prometheusMetricsEnabled"] is True
    identity.use("preview")
    stack.preview("--expect-no-changes")
    identity.use("up")
    stack.destroy()
    assert spec_of(cluster, "felixConfiguration") == felix_before
    assert spec_of(cluster, "kubeControllersConfiguration") == controllers_before


def refused(output: str, user: str, verb: str, resource: str, group: str) -> bool:
    return f'User "{user}" cannot {verb} resource "{resource}" in API group "{group}"' in output


def test_a_missing_rule_fails_the_run_naming_the_permission(make_cluster, make_stack, pki, tmp_path):
    install = "manifest-pod-scrape"
    cluster, config = prepare(make_cluster, install)
    preview, up = rbac_documents(install, "preview"), rbac_documents(install, "up")
    apply_rbac(cluster, without(preview, "customresourcedefinitions", "get") + up)
    identity = Identity(cluster, pki, tmp_path)
    stack = make_stack(identity.stack_cluster(), config)

    failed = stack.preview(check=False)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert refused(
        output, "calico-monitoring-preview-e2e", "get", "customresourcedefinitions", "apiextensions.k8s.io"
    ), output[-3000:]
    # The Prometheus selection check lists every Prometheus (Helm's lookup, run by the chart).
    apply_rbac(cluster, without(preview, "prometheuses", "list") + up)
    failed = stack.preview(check=False)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    user = "calico-monitoring-preview-e2e"
    assert refused(output, user, "list", "prometheuses", "monitoring.coreos.com"), output[-3000:]

    apply_rbac(cluster, preview + without(up, "felixconfigurations", "update"))
    identity.use("up")
    failed = stack.up(check=False)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    # One rule grants both calicoctl steps their update; the two run at once, and the first refusal ends the run.
    assert any(
        refused(output, "calico-monitoring-up-e2e", "update", resource, "crd.projectcalico.org")
        for resource in ("felixconfigurations", "kubecontrollersconfigurations")
    ), output[-3000:]

    apply_rbac(cluster, up)
    stack.up()
    # calicoctl's drift check in the preview of an existing stack: refused, it fails the preview.
    apply_rbac(cluster, without(preview, "clusterinformations", "get"))
    identity.use("preview")
    failed = stack.preview(check=False)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert refused(output, "calico-monitoring-preview-e2e", "get", "clusterinformations", "crd.projectcalico.org"), (
        output[-3000:]
    )

    apply_rbac(cluster, without(up, "podmonitors", "delete"))
    identity.use("up")
    failed = stack.destroy(check=False)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert refused(output, "calico-monitoring-up-e2e", "delete", "podmonitors", "monitoring.coreos.com"), output[-3000:]
    apply_rbac(cluster, up)
    stack.destroy()
