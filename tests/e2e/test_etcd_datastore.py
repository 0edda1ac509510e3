"""etcd v3 datastore behind client TLS: calicoctl reaches it with file paths or with inline PEM kept secret."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import FELIX_BEFORE, etcd_env
from tests.e2e.test_manifest_install import example_config

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("credentials", ["files", "inline"])
def test_etcd_datastore_with_client_tls(make_cluster, make_stack, calico_etcd, pki, credentials):
    cluster = make_cluster()
    env = etcd_env(calico_etcd, pki)
    document = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "FelixConfiguration",
        "metadata": {"name": "default"},
        "spec": FELIX_BEFORE,
    }
    cluster.calicoctl("create", "-f", "-", input=json.dumps(document), env=env)
    cluster.calicoctl(
        "create", "-f", "-", env=env,
        input=json.dumps({**document, "kind": "KubeControllersConfiguration", "spec": {"logSeverityScreen": "Info"}}),
    )  # fmt: skip
    before = cluster.calico_resource("felixConfiguration", env=env)["spec"]

    config = example_config("example-etcd")
    datastore = {"type": "etcdv3", "endpoints": [calico_etcd.endpoint]}
    if credentials == "files":
        datastore |= {"keyFile": env["ETCD_KEY_FILE"], "certFile": env["ETCD_CERT_FILE"], "caCertFile": str(pki.ca)}
    config["calico-monitoring:datastore"] = datastore
    stack = make_stack(cluster, config)
    secrets = []
    if credentials == "inline":
        for key, path in (("key", calico_etcd.client_key), ("cert", calico_etcd.client_cert), ("caCert", pki.ca)):
            text = path.read_text()
            stack.config_set(f"calico-monitoring:datastore.{key}", text, secret=True, path=True)
            secrets.append(text.strip().splitlines()[1])  # a line of the PEM body

    stack.preview()
    stack.up()
    felix = cluster.calico_resource("felixConfiguration", env=env)["spec"]
    assert felix["prometheusMetricsEnabled"] is True and felix["prometheusMetricsPort"] == 9091
    # The Kubernetes datastore of the cluster was not used for Calico's configuration.
    assert cluster.calico_resource("felixConfiguration")["spec"].get("prometheusMetricsEnabled") is None
    stack.preview("--expect-no-changes")

    stack.destroy()
    assert cluster.calico_resource("felixConfiguration", env=env)["spec"] == before

    if secrets:
        exported = stack.export()
        everything = exported + "\n".join(stack.log) + (stack.project / "Pulumi.e2e.yaml").read_text()
        leftovers = [p for p in (stack.project.parent / "tmp").rglob("*") if p.is_file()]
        texts = everything + "".join(p.read_text(errors="replace") for p in leftovers)
        for line in secrets:
            assert line not in texts
