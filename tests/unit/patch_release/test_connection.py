"""The Python client built from the stack's connection settings: the right context, no secret on disk."""

import base64
import tempfile
from pathlib import Path

import pytest
import yaml
from kubernetes.config import kube_config

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
