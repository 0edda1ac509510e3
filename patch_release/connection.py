"""The stack's Kubernetes connection for the official Python client.

The same settings the stack hands the kubernetes provider (`kubernetes:kubeconfig`, a path or
the text itself, and `kubernetes:context`; neither: KUBECONFIG or ~/.kube/config, then the
in-cluster service account), so this client reaches the cluster the provider does with the
same identity, exec credential plugins included. Certificates and keys the client would
write to temporary files go to memory files instead (Linux memfd), so no secret outlives
the process, even on SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.config import kube_config

from calicoctl.provider import PrivateFiles


def connection_props(kubeconfig_path: str | None, kubeconfig_content: Any, context: str | None) -> dict[str, Any]:
    """The resource property that carries the connection (its text, if any, is made secret by the caller)."""
    return {"kubeconfigPath": kubeconfig_path, "kubeconfig": kubeconfig_content, "context": context}


@contextlib.contextmanager
def kubernetes_api(connection: dict[str, Any]) -> Iterator[client.ApiClient]:
    files = PrivateFiles()
    counter = iter(range(1_000_000))

    def in_memory(content: Any, temp_file_path: str | None = None, force_recreate: bool = False) -> str:
        text = content.decode() if isinstance(content, bytes) else str(content)
        return files.add(f"kubeconfig-{next(counter)}", text)

    original = kube_config._create_temp_file_with_content
    kube_config._create_temp_file_with_content = in_memory
    try:
        api = _client(connection)
        try:
            yield api
        finally:
            api.close()
    finally:
        kube_config._create_temp_file_with_content = original
        files.close()


def _client(connection: dict[str, Any]) -> client.ApiClient:
    context = connection.get("context") or None
    content = connection.get("kubeconfig")
    if content:
        return config.new_client_from_config_dict(yaml.safe_load(content), context=context, persist_config=False)
    path = connection.get("kubeconfigPath")
    if path:
        return config.new_client_from_config(config_file=path, context=context, persist_config=False)
    ambient = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if ambient or (Path.home() / ".kube" / "config").exists():
        # The client merges a KUBECONFIG list as kubectl and client-go do.
        return config.new_client_from_config(context=context, persist_config=False)
    configuration = client.Configuration()
    config.load_incluster_config(client_configuration=configuration)
    return client.ApiClient(configuration=configuration)
