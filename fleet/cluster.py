"""Which cluster a stack reaches and the Calico it finds there: the API server of the stack's kubeconfig context,
and `calicoctl version` run with the stack's own datastore settings (calicoctl.provider's runner)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from calicoctl.provider import Calicoctl, CalicoctlError
from calicoctl.scripts import datastore_environment
from configuration import KubernetesProviderSettings, Secret, Settings

# `calicoctl version` reads ClusterInformation once; an unreachable datastore should not hold a stack's row long.
VERSION_TIMEOUT_SECONDS = 30


def api_server_of(kubeconfigs: Sequence[Mapping[str, Any]], context: str | None) -> str | None:
    """The server of ``context`` (else the current-context) in kubeconfig documents merged as kubectl merges a
    KUBECONFIG list: the first document to name an entry, or to set current-context, wins."""
    contexts: dict[str, Any] = {}
    clusters: dict[str, Any] = {}
    current = None
    for document in kubeconfigs:
        current = current or document.get("current-context") or None
        for entry in document.get("contexts") or []:
            contexts.setdefault(entry.get("name"), entry.get("context") or {})
        for entry in document.get("clusters") or []:
            clusters.setdefault(entry.get("name"), entry.get("cluster") or {})
    chosen = contexts.get(context or current)
    if not chosen:
        return None
    return (clusters.get(chosen.get("cluster")) or {}).get("server")


def _kubeconfig_documents(settings: KubernetesProviderSettings) -> list[Mapping[str, Any]]:
    """The kubeconfig the provider uses: the stack's text or path, else KUBECONFIG, else ~/.kube/config."""
    if settings.kubeconfig_content is not None:
        texts = [settings.kubeconfig_content.reveal()]
    else:
        if settings.kubeconfig_path is not None:
            paths = [settings.kubeconfig_path]
        else:
            paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p] or ["~/.kube/config"]
        files = [Path(p).expanduser() for p in paths]
        texts = [f.read_text() for f in files if f.is_file()]
    documents = [yaml.safe_load(text) for text in texts]
    return [d for d in documents if isinstance(d, Mapping)]


def api_server(settings: Settings) -> str | None:
    if settings.render_yaml_to is not None:
        return None
    try:
        return api_server_of(_kubeconfig_documents(settings.kubernetes), settings.kubernetes.context)
    except (OSError, yaml.YAMLError):
        return None


def parse_versions(output: str) -> tuple[str | None, str | None]:
    """(Calico's version in the cluster, calicoctl's own) from `calicoctl version`'s output."""
    cluster = re.search(r"^Cluster Version:\s+(\S+)", output, flags=re.M)
    client = re.search(r"^Client Version:\s+(\S+)", output, flags=re.M)
    return (cluster.group(1) if cluster else None), (client.group(1) if client else None)


def calico_versions(settings: Settings) -> tuple[str | None, str | None]:
    """(Calico version, calicoctl version) as `calicoctl version` sees them through the stack's datastore."""
    if settings.render_yaml_to is not None:
        return None, None
    environment = datastore_environment(settings.datastore)
    calicoctl = Calicoctl(
        {
            "kind": "clusterInformation",
            "resourceName": "default",
            "calicoctl": {
                "path": settings.calicoctl.path,
                "allowVersionMismatch": settings.calicoctl.allow_version_mismatch,
                "timeoutSeconds": min(settings.calicoctl.timeout_seconds, VERSION_TIMEOUT_SECONDS),
            },
            "connection": {
                name: value.reveal() if isinstance(value, Secret) else value for name, value in environment.items()
            },
        }
    )
    try:
        output = calicoctl.run("version")
    except CalicoctlError as error:
        # It prints its own version before it asks the cluster for Calico's.
        output = str(error)
    return parse_versions(output)
