"""PatchRelease: gives a server-side-apply patch's fields back on destroy, if its target still exists.

pulumi-kubernetes gives a Patch's fields back with an apply that does not check that the
patched object exists: a deleted DaemonSet or Deployment then fails the destroy (an object
with no spec), and a deleted `Installation default` is created again, empty, which a running
Tigera operator installs Calico from. Each patch of this program is therefore `deleted_with`
its PatchRelease: when both go (destroy, or the setting that made the patch turned off), the
provider's delete of the patch is skipped and this resource's delete reads the object first.
If it is gone there is nothing to give back; otherwise it applies the object's bare identity
as each field manager of the patch, which is exactly what the provider would have done.

The patch's managers are the pulumi-kubernetes ones (`pulumi-kubernetes-<random>`, chosen by
the provider and kept in its state) that own the `pulumi.com/skipAwait` annotation every patch
of this program sets. A replacement of a patch (`pulumi up --replace`) is not a delete with its
PatchRelease, so the provider gives back the old manager's fields itself, as before.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
from kubernetes.client.exceptions import ApiException
from pulumi import dynamic

from calicoctl.provider import delete_unreachable
from patch_release.connection import kubernetes_api

MARKER_FIELD = "f:pulumi.com/skipAwait"
REQUEST = {"auth_settings": ["BearerToken"], "_preload_content": False, "_request_timeout": 30}
PROVIDER_MANAGER_PREFIX = "pulumi-kubernetes"
INPUT_KEYS = ("target", "connection")


class PatchTargetError(Exception):
    pass


def object_path(target: dict[str, Any]) -> str:
    """The REST path of the patched object: /api/v1/… for the core group, /apis/<group>/<version>/… else."""
    api_version = target["apiVersion"]
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    namespace = target.get("namespace")
    scope = f"/namespaces/{namespace}" if namespace else ""
    return f"{base}{scope}/{target['plural']}/{target['name']}"


def describe(target: dict[str, Any]) -> str:
    namespace = target.get("namespace")
    return f"{target['kind']} {namespace + '/' if namespace else ''}{target['name']}"


def patch_managers(live: dict[str, Any]) -> list[str]:
    """The field managers of this program's patches on ``live``: pulumi-kubernetes applies that own the marker."""
    managers = set()
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        manager = entry.get("manager") or ""
        annotations = ((entry.get("fieldsV1") or {}).get("f:metadata") or {}).get("f:annotations") or {}
        if (
            entry.get("operation") == "Apply"
            and manager.startswith(PROVIDER_MANAGER_PREFIX)
            and MARKER_FIELD in annotations
        ):
            managers.add(manager)
    return sorted(managers)


def bare_identity(target: dict[str, Any]) -> dict[str, Any]:
    metadata = {"name": target["name"]}
    if target.get("namespace"):
        metadata["namespace"] = target["namespace"]
    return {"apiVersion": target["apiVersion"], "kind": target["kind"], "metadata": metadata}


class PatchTarget:
    """The patched object, through the stack's Kubernetes connection."""

    def __init__(self, api: Any, target: dict[str, Any]) -> None:
        self.api = api
        self.target = target
        self.path = object_path(target)

    def get(self) -> dict[str, Any] | None:
        try:
            response = self.api.call_api(self.path, "GET", header_params={"Accept": "application/json"}, **REQUEST)
        except ApiException as error:
            if error.status == 404:
                return None
            raise PatchTargetError(f"reading {describe(self.target)} failed: {error.status} {error.reason}") from None
        return json.loads(response.data)

    def give_back(self, manager: str) -> None:
        try:
            self.api.call_api(
                self.path,
                "PATCH",
                query_params=[("fieldManager", manager)],
                header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
                body=bare_identity(self.target),
                **REQUEST,
            )
        except ApiException as error:
            raise PatchTargetError(
                f"giving back the fields of {manager} on {describe(self.target)} failed: {error.status} {error.reason}"
            ) from None


class PatchReleaseProvider(dynamic.ResourceProvider):
    """Create and update check that the connection reaches the target; delete gives the fields back."""

    def _reach(self, props: dict[str, Any]) -> None:
        """A connection this client cannot use would only show at destroy: fail the `up` instead."""
        target = props["target"]
        try:
            with kubernetes_api(props["connection"]) as api:
                PatchTarget(api, target).get()
        except Exception as error:  # the client's own errors: bad kubeconfig, exec plugin, TLS, network
            raise PatchTargetError(
                f"the stack's Kubernetes connection does not reach {describe(target)} from the Python client "
                f"that gives its patched fields back on destroy: {error}"
            ) from None

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        self._reach(props)
        return dynamic.CreateResult(describe(props["target"]), props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changed = [key for key in INPUT_KEYS if olds.get(key) != news.get(key)]
        return dynamic.DiffResult(changes=bool(changed))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        self._reach(news)
        return dynamic.UpdateResult(news)

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        return dynamic.ReadResult(id_, props)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        target = props["target"]
        try:
            with kubernetes_api(props["connection"]) as api:
                patched = PatchTarget(api, target)
                live = patched.get()
                if live is None:
                    pulumi.log.info(f"{describe(target)} no longer exists: its patched fields went with it")
                    return
                for manager in patch_managers(live):
                    patched.give_back(manager)
        except Exception as error:
            if not delete_unreachable():
                raise PatchTargetError(f"{error}") from None
            pulumi.log.warn(f"{error}; PULUMI_K8S_DELETE_UNREACHABLE is set, so {describe(target)} is left as it is")


class PatchRelease(dynamic.Resource, module="calico-monitoring", name="PatchRelease"):
    """Give the fields of the patches of ``target`` back on delete, if the object still exists."""

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(
            PatchReleaseProvider(),
            name,
            props,
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["connection"])),
        )
