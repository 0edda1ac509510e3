"""The cluster a stack reaches (its kubeconfig context's API server) and the Calico `calicoctl version` finds there."""

import json

import yaml

from configuration import parse_settings
from fleet.cluster import api_server, api_server_of, calico_versions, parse_versions

KUBECONFIG = {
    "current-context": "staging",
    "contexts": [
        {"name": "prod-eu-1", "context": {"cluster": "eu", "user": "admin"}},
        {"name": "staging", "context": {"cluster": "stg", "user": "admin"}},
    ],
    "clusters": [
        {"name": "eu", "cluster": {"server": "https://10.0.0.1:6443"}},
        {"name": "stg", "cluster": {"server": "https://10.9.0.1:6443"}},
    ],
    "users": [{"name": "admin", "user": {"token": "secret-token"}}],
}


def test_the_api_server_of_the_named_context_else_the_current_one_first_file_winning():
    assert api_server_of([KUBECONFIG], "prod-eu-1") == "https://10.0.0.1:6443"
    assert api_server_of([KUBECONFIG], None) == "https://10.9.0.1:6443"
    assert api_server_of([KUBECONFIG], "gone") is None
    earlier = {
        "clusters": [{"name": "eu", "cluster": {"server": "https://first:6443"}}],
        "current-context": "prod-eu-1",
    }
    assert api_server_of([earlier, KUBECONFIG], None) == "https://first:6443"


def settings(**config):
    return parse_settings({"calico-monitoring:datastore": {"type": "kubernetes"}, **config})


def test_a_stacks_cluster_from_its_kubeconfig_path_or_text(tmp_path, monkeypatch):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(KUBECONFIG))
    assert api_server(settings(**{"kubernetes:kubeconfig": str(path), "kubernetes:context": "prod-eu-1"})) == (
        "https://10.0.0.1:6443"
    )
    text = yaml.safe_dump(KUBECONFIG)
    assert api_server(settings(**{"kubernetes:kubeconfig": text})) == "https://10.9.0.1:6443"
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'missing'}:{path}")
    assert api_server(settings(**{"kubernetes:context": "prod-eu-1"})) == "https://10.0.0.1:6443"
    rendered = {
        "kubernetes:context": "prod-eu-1",
        "calico-monitoring:renderYamlTo": str(tmp_path / "out"),
        "calico-monitoring:felix": {"scrape": "service"},
    }
    assert api_server(settings(**rendered)) is None


VERSION_OUTPUT = """Client Version:    v3.31.0
Git commit:        b1f3c43f8
Cluster Version:   v3.30.2
Cluster Type:      k8s,bgp,kubeadm,kdd
"""

FAKE_CALICOCTL = """#!/bin/sh
# Records its arguments and the config it was given, then answers `version` as calicoctl does.
config=""
previous=""
for argument in "$@"; do
  [ "$previous" = "--config" ] && config=$argument
  previous=$argument
done
printf '%s\\n' "$*" > "{record}.argv"
cat "$config" > "{record}.config"
printf 'Client Version:    v3.31.0\\nGit commit:        b1f3c43f8\\n'
if [ -n "$FAIL" ]; then
  echo 'unable to retrieve Cluster Version or Type: connection refused' >&2
  exit 1
fi
printf 'Cluster Version:   v3.30.2\\nCluster Type:      k8s,bgp,kdd\\n'
"""


def test_parse_versions():
    assert parse_versions(VERSION_OUTPUT) == ("v3.30.2", "v3.31.0")
    assert parse_versions("Client Version:    v3.31.0\nGit commit: x\n") == (None, "v3.31.0")
    assert parse_versions("") == (None, None)


def test_calicoctl_version_runs_with_the_stacks_datastore_and_reports_both_versions(tmp_path, monkeypatch):
    record = tmp_path / "call"
    fake = tmp_path / "calicoctl"
    fake.write_text(FAKE_CALICOCTL.replace("{record}", str(record)))
    fake.chmod(0o755)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(KUBECONFIG))
    stack = settings(
        **{
            "kubernetes:kubeconfig": str(kubeconfig),
            "kubernetes:context": "prod-eu-1",
            "calico-monitoring:calicoctl": {"path": str(fake)},
        }
    )
    assert calico_versions(stack) == ("v3.30.2", "v3.31.0")
    assert record.with_suffix(".argv").read_text().split()[0] == "version"
    config = json.loads(record.with_suffix(".config").read_text())
    assert config["spec"] == {
        "datastoreType": "kubernetes",
        "kubeconfig": str(kubeconfig),
        "k8sCurrentContext": "prod-eu-1",
    }
    # The cluster out of reach: calicoctl still says its own version.
    monkeypatch.setenv("FAIL", "1")
    assert calico_versions(stack) == (None, "v3.31.0")
    missing = settings(**{"kubernetes:context": "c", "calico-monitoring:calicoctl": {"path": str(tmp_path / "none")}})
    assert calico_versions(missing) == (None, None)
