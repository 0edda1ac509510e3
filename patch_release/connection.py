"""The stack's Kubernetes connection for the official Python client.

The same settings the stack hands the kubernetes provider (`kubernetes:kubeconfig`, a path or
the text itself, and `kubernetes:context`; neither: KUBECONFIG or ~/.kube/config, then the
in-cluster service account), so this client reaches the cluster the provider does with the
same identity, exec credential plugins included. Certificates and keys the client would
write to temporary files go to memory files instead (Linux memfd), so no secret outlives
the process, even on SIGKILL.

The kubeconfig is read here and the chosen context's certificates are put in memory files
before the client library sees it, so the library finds file paths and writes nothing. Each
client has its own files: clients built at once on several threads do not share any state.
"""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.exec_provider import ExecProvider
from kubernetes.config.kube_config import ConfigNode, KubeConfigLoader, KubeConfigMerger

from calicoctl.provider import PrivateFiles

# The kubeconfig fields that carry a certificate or key inline (base64), by the field that names a file instead.
CLUSTER_FILES = (("certificate-authority", "ca.crt"),)
USER_FILES = (("client-certificate", "client.crt"), ("client-key", "client.key"))


def connection_props(kubeconfig_path: str | None, kubeconfig_content: Any, context: str | None) -> dict[str, Any]:
    """The resource property that carries the connection (its text, if any, is made secret by the caller)."""
    return {"kubeconfigPath": kubeconfig_path, "kubeconfig": kubeconfig_content, "context": context}


@contextlib.contextmanager
def kubernetes_api(connection: dict[str, Any]) -> Iterator[client.ApiClient]:
    files = PrivateFiles()
    try:
        api = client.ApiClient(configuration=_configuration(connection, files))
        try:
            yield api
        finally:
            api.close()
    finally:
        files.close()


def _configuration(connection: dict[str, Any], files: PrivateFiles) -> client.Configuration:
    configuration = client.Configuration()
    kubeconfig = _kubeconfig(connection)
    if kubeconfig is None:
        config.load_incluster_config(client_configuration=configuration)
        return configuration
    # No config_base_path: a relative file path is read from the folder of the kubeconfig that names it.
    loader = KubeConfigLoader(kubeconfig, active_context=connection.get("context") or None, config_base_path=None)
    context = loader.current_context
    cluster = kubeconfig["clusters"].get_with_name(context["context"]["cluster"])["cluster"]
    user = _user(kubeconfig, context["context"].get("user"))
    _to_files(cluster.value, CLUSTER_FILES, files)
    if user is not None:
        _to_files(user.value, USER_FILES, files)
        _run_exec_plugin(user.value, cluster, files)
    loader.set_active_context(context["name"])  # reads the entries again, now naming the memory files
    loader.load_and_set(configuration)
    return configuration


def _kubeconfig(connection: dict[str, Any]) -> ConfigNode | None:
    """The kubeconfig the connection names, or None for the in-cluster service account."""
    content = connection.get("kubeconfig")
    if content:
        document = yaml.safe_load(content)
        if not isinstance(document, dict):
            raise ConfigException("Invalid kube-config dict. No configuration found.")
        return ConfigNode("kube-config", document)
    path = connection.get("kubeconfigPath")
    if not path:
        ambient = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
        default = Path.home() / ".kube" / "config"
        if not ambient and not default.exists():
            return None
        # A KUBECONFIG list is merged as kubectl and client-go do: the first file to name an entry wins.
        path = os.pathsep.join(ambient) if ambient else str(default)
    merged = KubeConfigMerger(path).config
    if merged is None:
        raise ConfigException("Invalid kube-config file. No configuration found.")
    return merged


def _user(kubeconfig: ConfigNode, name: str | None) -> ConfigNode | None:
    if not name or not kubeconfig.safe_get("users"):
        return None
    entry = kubeconfig["users"].get_with_name(name, safe=True)
    return entry["user"] if entry is not None else None


def _to_files(entry: dict[str, Any], fields: tuple[tuple[str, str], ...], files: PrivateFiles) -> None:
    """Moves each inline certificate or key of ``entry`` into a memory file that the entry names instead."""
    for field, name in fields:
        data = entry.get(f"{field}-data")
        if data:
            del entry[f"{field}-data"]
            entry[field] = files.add(name, base64.standard_b64decode(data).decode())


def _run_exec_plugin(user: dict[str, Any], cluster: ConfigNode, files: PrivateFiles) -> None:
    """Runs the user's exec credential plugin, where the client would, and puts what it returns in ``user``.

    The client runs it only when the user has no auth-provider, token or token file; its certificates would
    go to temporary files. The plugin runs once per client: a client lives for one operation.
    """
    if "exec" not in user or any(user.get(key) for key in ("auth-provider", "token", "tokenFile")):
        return
    folder = os.path.dirname(os.path.abspath(cluster.path)) if cluster.path else ""
    status = ExecProvider(ConfigNode("exec", user.pop("exec")), folder, cluster).run()
    if "token" in status:
        user["token"] = status["token"]
    elif "clientCertificateData" in status and "clientKeyData" in status:
        user["client-certificate"] = files.add("exec-client.crt", status["clientCertificateData"])
        user["client-key"] = files.add("exec-client.key", status["clientKeyData"])
    else:
        raise ConfigException("exec: the plugin returned neither a token nor clientCertificateData and clientKeyData")
