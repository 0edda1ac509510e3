"""The Python client built from the stack's connection settings: the right context, no secret on disk."""

import base64
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml
from kubernetes.config import kube_config
from kubernetes.config.config_exception import ConfigException

from patch_release.connection import kubernetes_api


def pem(kind: str, body: str) -> str:
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n"


CA = pem("CERTIFICATE", "MIIBdzCCAR2gAwIBAgIBADAKBggqhkjOPQQDAjAjMSEwHwYDVQQDDBhrM3Mtc2Vy")
CERT = pem("CERTIFICATE", "MIIBkTCCATegAwIBAgIIQ2FsaWNvTW9uMAoGCCqGSM49BAMCMCMxITAfBgNVBAMM")
KEY = pem("EC PRIVATE KEY", "MHcCAQEEIAmonitoringkeymaterialnotarealkeyAoGCCqGSM49AwEHoUQDQgAE")


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def kubeconfig_text() -> str:
    """Two clusters, as `kind`/`kubeadm` write them: certificates inline, one context each."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "staging",
            "clusters": [
                {
                    "name": "prod",
                    "cluster": {"server": "https://10.0.0.1:6443", "certificate-authority-data": encoded(CA)},
                },
                {"name": "staging", "cluster": {"server": "https://10.9.9.9:6443", "insecure-skip-tls-verify": True}},
            ],
            "users": [
                {
                    "name": "prod-admin",
                    "user": {"client-certificate-data": encoded(CERT), "client-key-data": encoded(KEY)},
                },
                {"name": "staging-admin", "user": {"token": "staging-token"}},
            ],
            "contexts": [
                {"name": "prod", "context": {"cluster": "prod", "user": "prod-admin"}},
                {"name": "staging", "context": {"cluster": "staging", "user": "staging-admin"}},
            ],
        }
    )


@pytest.fixture
def temp_dir(tmp_path, monkeypatch):
    """Where the client would write its certificate files."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_the_stacks_context_is_used_and_its_certificates_stay_in_memory(temp_dir):
    written = kube_config._create_temp_file_with_content
    with kubernetes_api({"kubeconfigPath": None, "kubeconfig": kubeconfig_text(), "context": "prod"}) as api:
        configuration = api.configuration
        assert configuration.host == "https://10.0.0.1:6443"
        files = {configuration.ssl_ca_cert: CA, configuration.cert_file: CERT, configuration.key_file: KEY}
        for path, text in files.items():
            assert path.startswith("/proc/self/fd/"), path
            assert Path(path).read_text() == text
        assert list(temp_dir.iterdir()) == []
    assert kube_config._create_temp_file_with_content is written
    assert all(not Path(path).exists() for path in files)  # closed with the client


def test_a_kubeconfig_path_and_its_current_context(temp_dir):
    path = temp_dir / "kubeconfig"
    path.write_text(kubeconfig_text())
    with kubernetes_api({"kubeconfigPath": str(path), "kubeconfig": None, "context": None}) as api:
        assert api.configuration.host == "https://10.9.9.9:6443"
        # The header every request of PatchTarget sends (auth_settings=["BearerToken"]).
        assert api.configuration.auth_settings()["BearerToken"]["value"] == "Bearer staging-token"
    assert list(temp_dir.iterdir()) == [path]


# An exec credential plugin: prints the ExecCredential status it is given; with MEETING, it first says it
# has started (a file named CLIENT) and waits for a file named go, so several clients are inside it at once.
PLUGIN = """\
import json, os, pathlib, sys, time
meeting = os.environ.get("MEETING")
if meeting:
    (pathlib.Path(meeting) / os.environ["CLIENT"]).touch()
    deadline = time.monotonic() + 30
    while not (pathlib.Path(meeting) / "go").exists():
        if time.monotonic() > deadline:
            sys.exit("nobody said go")
        time.sleep(0.01)
credential = {"kind": "ExecCredential", "status": json.loads(os.environ["STATUS"])}
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", **credential}))
"""


@pytest.fixture
def plugin(tmp_path_factory):
    path = tmp_path_factory.mktemp("plugin") / "credentials.py"
    path.write_text(PLUGIN)
    return path


def exec_kubeconfig(plugin: Path, ca: str, status: dict, **env: str) -> str:
    """One cluster, whose user's credentials come from ``plugin`` (``status`` is what it returns)."""
    variables = [{"name": "STATUS", "value": json.dumps(status)}]
    variables += [{"name": name, "value": value} for name, value in env.items()]
    credentials = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": sys.executable,
        "args": [str(plugin)],
        "env": variables,
        "interactiveMode": "Never",
    }
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "eks",
            "clusters": [
                {"name": "eks", "cluster": {"server": "https://10.3.0.1", "certificate-authority-data": encoded(ca)}}
            ],
            "users": [{"name": "eks", "user": {"exec": credentials}}],
            "contexts": [{"name": "eks", "context": {"cluster": "eks", "user": "eks"}}],
        }
    )


def test_clients_built_at_once_on_threads_each_get_their_own_certificates_in_memory(temp_dir, plugin):
    meeting = plugin.parent / "meeting"
    meeting.mkdir()
    clients = {
        name: (pem("CERTIFICATE", f"ca-of-{name}"), pem("CERTIFICATE", f"cert-of-{name}"), pem("EC PRIVATE KEY", name))
        for name in ("first", "second")
    }
    written = kube_config._create_temp_file_with_content
    seen: dict[str, list[tuple[str, str]]] = {}
    errors: list[Exception] = []
    both_have_read = threading.Barrier(len(clients), timeout=30)

    def build(name: str) -> None:
        ca, cert, key = clients[name]
        status = {"clientCertificateData": cert, "clientKeyData": key}
        text = exec_kubeconfig(plugin, ca, status, MEETING=str(meeting), CLIENT=name)
        try:
            with kubernetes_api({"kubeconfigPath": None, "kubeconfig": text, "context": None}) as api:
                configuration = api.configuration
                paths = (configuration.ssl_ca_cert, configuration.cert_file, configuration.key_file)
                seen[name] = [(path, Path(path).read_text()) for path in paths]
                both_have_read.wait()  # neither closes its files before the other has read its own
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=build, args=(name,)) for name in clients]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 30
        while not all((meeting / name).exists() for name in clients) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert all((meeting / name).exists() for name in clients), "the clients were not built at once"
        # Both clients are being built right now.
        replaced_while_building = kube_config._create_temp_file_with_content is not written
    finally:
        (meeting / "go").touch()
        for thread in threads:
            thread.join(60)
    assert not replaced_while_building
    assert errors == []
    for name, contents in clients.items():
        assert [text for _, text in seen[name]] == list(contents), name
        assert all(path.startswith("/proc/self/fd/") for path, _ in seen[name]), seen[name]
    assert list(temp_dir.iterdir()) == []
    assert kube_config._create_temp_file_with_content is written


def test_an_exec_plugins_token_is_the_bearer_token(temp_dir, plugin):
    text = exec_kubeconfig(plugin, CA, {"token": "exec-token"})
    with kubernetes_api({"kubeconfigPath": None, "kubeconfig": text, "context": None}) as api:
        assert api.configuration.auth_settings()["BearerToken"]["value"] == "Bearer exec-token"
        assert Path(api.configuration.ssl_ca_cert).read_text() == CA
        assert api.configuration.cert_file is None
    assert list(temp_dir.iterdir()) == []


def test_a_kubeconfig_list_is_merged_the_first_file_naming_an_entry_wins(temp_dir, tmp_path_factory, monkeypatch):
    first = tmp_path_factory.mktemp("first")
    (first / "prod-ca.crt").write_text(CA)
    own = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "prod", "cluster": {"server": "https://10.1.1.1:6443", "certificate-authority": "prod-ca.crt"}}
        ],
        "users": [{"name": "prod-admin", "user": {"token": "first-token"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "prod-admin"}}],
    }
    (first / "config").write_text(yaml.safe_dump(own))
    second = tmp_path_factory.mktemp("second") / "config"
    second.write_text(kubeconfig_text())
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(first / "config"), str(second)]))
    with kubernetes_api({"kubeconfigPath": None, "kubeconfig": None, "context": "prod"}) as api:
        assert api.configuration.host == "https://10.1.1.1:6443"
        assert api.configuration.ssl_ca_cert == str(first / "prod-ca.crt")  # relative to the file that names it
        assert api.configuration.auth_settings()["BearerToken"]["value"] == "Bearer first-token"
    with kubernetes_api({"kubeconfigPath": None, "kubeconfig": None, "context": "staging"}) as api:
        assert api.configuration.host == "https://10.9.9.9:6443"
    assert list(temp_dir.iterdir()) == []


def test_without_settings_the_home_kubeconfig_then_the_service_account(temp_dir, tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    ambient = {"kubeconfigPath": None, "kubeconfig": None, "context": None}
    # The in-cluster client's refusal outside a pod.
    with pytest.raises(ConfigException, match="Service host/port is not set"), kubernetes_api(ambient):
        pass
    (home / ".kube").mkdir()
    (home / ".kube" / "config").write_text(kubeconfig_text())
    with kubernetes_api({**ambient, "context": "prod"}) as api:
        assert api.configuration.host == "https://10.0.0.1:6443"
        assert Path(api.configuration.key_file).read_text() == KEY
    assert list(temp_dir.iterdir()) == []
