"""PatchRelease's choices: which object, which field managers, and what a missing object means.

The API server here is a recording stand-in; the real one (and the real engine skipping the
provider's delete of a patch deleted with its PatchRelease) is exercised in tests/e2e.
"""

import json

import pytest
from kubernetes.client.exceptions import ApiException

import patch_release.provider as provider_module
from patch_release.provider import (
    PatchReleaseProvider,
    PatchTargetError,
    bare_identity,
    object_path,
    patch_managers,
)

CALICO_NODE = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "plural": "daemonsets",
    "namespace": "kube-system",
    "name": "calico-node",
}
INSTALLATION = {
    "apiVersion": "operator.tigera.io/v1",
    "kind": "Installation",
    "plural": "installations",
    "namespace": None,
    "name": "default",
}
PORT_KEY = 'k:{"containerPort":9091,"protocol":"TCP"}'
PORT_FIELDS = {PORT_KEY: {".": {}, "f:containerPort": {}, "f:name": {}, "f:protocol": {}}}


def managed_fields(*patch_managers_: str) -> list[dict]:
    """managedFields as the API server returns them: kubectl's apply, the controller's status, the patches' applies."""
    entries = [
        {
            "manager": "kubectl-client-side-apply",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "time": "2026-11-30T09:12:44Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}}
            },
        },
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "time": "2026-11-30T09:13:02Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:status": {"f:numberReady": {}, "f:observedGeneration": {}}},
            "subresource": "status",
        },
    ]
    for manager in patch_managers_:
        entries.append(
            {
                "manager": manager,
                "operation": "Apply",
                "apiVersion": "apps/v1",
                "time": "2026-11-30T09:20:17Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {
                    "f:metadata": {"f:annotations": {"f:pulumi.com/skipAwait": {}}},
                    "f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"calico-node"}': {
                        ".": {}, "f:name": {}, "f:ports": PORT_FIELDS,
                    }}}}},
                },
            }
        )  # fmt: skip
    return entries


class Response:
    def __init__(self, document: dict) -> None:
        self.data = json.dumps(document).encode()


class StandInApi:
    """call_api as the client's ApiClient offers it: GET answers from ``objects``, PATCH is recorded."""

    def __init__(self, objects: dict[str, dict], unreachable: bool = False) -> None:
        self.objects = objects
        self.unreachable = unreachable
        self.patches: list[tuple[str, str, dict]] = []

    def call_api(self, path, method, query_params=None, header_params=None, body=None, **_):
        if self.unreachable:
            raise ConnectionRefusedError("[Errno 111] Connection refused")
        if method == "GET":
            if path not in self.objects:
                raise ApiException(status=404, reason="Not Found")
            return Response(self.objects[path])
        assert header_params["Content-Type"] == "application/apply-patch+yaml"
        self.patches.append((path, dict(query_params)["fieldManager"], body))
        return Response(body)


@pytest.fixture
def api(monkeypatch):
    holder = {}

    class Connected:
        def __init__(self, connection):
            assert connection == {"kubeconfigPath": "/k", "kubeconfig": None, "context": "prod"}

        def __enter__(self):
            return holder["api"]

        def __exit__(self, *_):
            return False

    monkeypatch.setattr(provider_module, "kubernetes_api", Connected)
    monkeypatch.delenv("PULUMI_K8S_DELETE_UNREACHABLE", raising=False)

    def serve(objects: dict[str, dict], unreachable: bool = False) -> StandInApi:
        holder["api"] = StandInApi(objects, unreachable)
        return holder["api"]

    return serve


def props(target: dict) -> dict:
    return {"target": target, "connection": {"kubeconfigPath": "/k", "kubeconfig": None, "context": "prod"}}


def test_object_paths_of_the_patched_kinds():
    assert object_path(CALICO_NODE) == "/apis/apps/v1/namespaces/kube-system/daemonsets/calico-node"
    assert object_path(INSTALLATION) == "/apis/operator.tigera.io/v1/installations/default"
    assert object_path({**CALICO_NODE, "apiVersion": "v1", "plural": "services"}).startswith("/api/v1/namespaces/")


def test_only_pulumi_kubernetes_applies_that_own_the_marker_are_the_patches():
    live = {"metadata": {"managedFields": managed_fields("pulumi-kubernetes-5a1d2e0c", "pulumi-kubernetes-9f33b7aa")}}
    # Another program's pulumi-kubernetes apply of the same object that set no skipAwait is not ours.
    live["metadata"]["managedFields"].append(
        {"manager": "pulumi-kubernetes-0c0ffee0", "operation": "Apply", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}}}
    )  # fmt: skip
    assert patch_managers(live) == ["pulumi-kubernetes-5a1d2e0c", "pulumi-kubernetes-9f33b7aa"]
    assert patch_managers({"metadata": {}}) == []


def test_the_fields_are_given_back_as_each_patch_manager_with_the_bare_identity(api):
    path = object_path(CALICO_NODE)
    server = api(
        {path: {"metadata": {"name": "calico-node", "managedFields": managed_fields("pulumi-kubernetes-5a1d2e0c")}}}
    )
    PatchReleaseProvider().delete("DaemonSet kube-system/calico-node", props(CALICO_NODE))
    bare = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "calico-node", "namespace": "kube-system"},
    }
    assert server.patches == [(path, "pulumi-kubernetes-5a1d2e0c", bare)]
    assert bare_identity(INSTALLATION) == {
        "apiVersion": "operator.tigera.io/v1",
        "kind": "Installation",
        "metadata": {"name": "default"},
    }


def test_a_deleted_object_gets_nothing_applied(api):
    server = api({})
    PatchReleaseProvider().delete("Installation default", props(INSTALLATION))
    assert server.patches == []  # an apply would have created Installation default again


def test_an_unreachable_cluster_fails_the_delete_unless_the_operator_says_it_is_gone(api, monkeypatch):
    server = api({}, unreachable=True)
    with pytest.raises(PatchTargetError, match="Connection refused"):
        PatchReleaseProvider().delete("DaemonSet kube-system/calico-node", props(CALICO_NODE))
    monkeypatch.setenv("PULUMI_K8S_DELETE_UNREACHABLE", "true")
    PatchReleaseProvider().delete("DaemonSet kube-system/calico-node", props(CALICO_NODE))
    assert server.patches == []


def test_up_fails_when_the_client_cannot_reach_the_object(api):
    api({}, unreachable=True)
    with pytest.raises(PatchTargetError, match="does not reach DaemonSet kube-system/calico-node"):
        PatchReleaseProvider().create(props(CALICO_NODE))


def test_a_forbidden_read_is_an_error_not_a_missing_object(api, monkeypatch):
    server = api({})

    def forbidden(path, method, **_):
        raise ApiException(status=403, reason="Forbidden")

    monkeypatch.setattr(server, "call_api", forbidden)
    with pytest.raises(PatchTargetError, match="403 Forbidden"):
        PatchReleaseProvider().delete("Installation default", props(INSTALLATION))
