"""How `verify` reads Prometheus' HTTP API: at a URL (with a bearer token and a CA when the stack sets them),
or through the API server's service proxy with the stack's own Kubernetes connection.

A reader has ``where``, the base URL the messages name, and ``fetch(url, timeout)``, the `data` of the answer
to ``where`` + a path, as ``prometheus_targets.wait_for_targets`` polls it. Pure (no Pulumi).
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from configuration.connection import Secret


class PrometheusUnreadable(RuntimeError):
    """A Prometheus API answer could not be had; the message names the URL and the error."""


def answer_data(url: str, body: bytes) -> Any:
    """The `data` of a successful Prometheus API answer."""
    try:
        payload = json.loads(body)
    except ValueError:
        raise PrometheusUnreadable(f"{url}: not a Prometheus API answer: {body[:200]!r}") from None
    if not isinstance(payload, dict) or payload.get("status") != "success" or not isinstance(payload.get("data"), dict):
        shown = payload.get("error") if isinstance(payload, dict) else None
        raise PrometheusUnreadable(f"{url}: not a successful Prometheus API answer: {shown or str(payload)[:200]}")
    return payload["data"]


def error_detail(body: bytes) -> str:
    """What an error answer says: Prometheus' `errorType: error`, a Kubernetes Status' message, or its text."""
    detail = body[:300].decode("utf-8", "replace").strip()
    try:
        answer = json.loads(body)
    except ValueError:
        return detail
    if isinstance(answer, dict) and answer.get("kind") == "Status" and isinstance(answer.get("message"), str):
        return answer["message"]
    try:
        return f"{answer['errorType']}: {answer['error']}"
    except (TypeError, KeyError):
        return detail


def fetch_json(
    url: str,
    timeout: float,
    *,
    bearer_token: Secret | None = None,
    context: ssl.SSLContext | None = None,
) -> Any:
    """The `data` of a Prometheus API answer; ``bearer_token`` goes in an Authorization header that a redirect
    does not carry on, ``context`` verifies an https:// server."""
    request = urllib.request.Request(url)
    if bearer_token is not None:
        request.add_unredirected_header("Authorization", f"Bearer {bearer_token.reveal()}")
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        raise PrometheusUnreadable(f"{url}: HTTP {error.code}: {error_detail(error.read()[:300])}") from None
    except (urllib.error.URLError, OSError) as error:
        raise PrometheusUnreadable(f"{url}: {getattr(error, 'reason', None) or error}") from None
    return answer_data(url, body)


class PrometheusAtUrl:
    """Prometheus at a URL, as the machine that runs `pulumi up` reaches it."""

    def __init__(
        self,
        url: str,
        *,
        bearer_token: Secret | None = None,
        ca_cert_file: str | None = None,
        ca_cert: str | None = None,
    ) -> None:
        """``ca_cert_file`` or ``ca_cert`` (PEM text) are the only CAs an https:// Prometheus is checked against;
        neither: the system's. Raises OSError or ssl.SSLError when the CA cannot be read."""
        self.where = url.rstrip("/")
        self.bearer_token = bearer_token
        self.context = (
            ssl.create_default_context(cafile=ca_cert_file, cadata=ca_cert)
            if ca_cert_file is not None or ca_cert is not None
            else None
        )

    def fetch(self, url: str, timeout: float) -> Any:
        return fetch_json(url, timeout, bearer_token=self.bearer_token, context=self.context)


def service_proxy_path(namespace: str, service: str, port: str, scheme: str | None = None) -> str:
    """The API server's proxy to a Service's port, `[<scheme>:]<service>:<port>` as the API server accepts it."""
    return f"/api/v1/namespaces/{namespace}/services/{service_proxy_name(service, port, scheme)}/proxy"


def service_proxy_name(service: str, port: str, scheme: str | None = None) -> str:
    """The proxy path's name segment, which is also the name RBAC authorizes on services/proxy."""
    return ":".join(part for part in (scheme, service, port) if part)


class PrometheusThroughServiceProxy:
    """Prometheus' Service, through the API server's service proxy, with the client's own credentials."""

    def __init__(self, api: ApiClient, namespace: str, service: str, port: str, scheme: str | None = None) -> None:
        self.api = api
        self.host = api.configuration.host.rstrip("/")
        self.namespace = namespace
        self.name = service_proxy_name(service, port, scheme)
        self.where = self.host + service_proxy_path(namespace, service, port, scheme)

    def fetch(self, url: str, timeout: float) -> Any:
        if not url.startswith(self.where):
            raise ValueError(f"{url} is not under {self.where}")
        try:
            # The path carries its query: the client would otherwise re-encode it.
            response = self.api.call_api(
                url[len(self.host) :],
                "GET",
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=timeout,
            )
            body = response.data
        except ApiException as error:
            if not error.status:  # no answer: the client's TLS error is in the reason
                raise PrometheusUnreadable(f"{url}: {error.reason}") from None
            detail = error_detail(error.body.encode() if isinstance(error.body, str) else error.body or b"")
            if error.status == 403:
                detail += (
                    f" (reading Prometheus through the service proxy needs get on services/proxy "
                    f"{self.name} in namespace {self.namespace}: rbac/verify-service-proxy.yaml)"
                )
            raise PrometheusUnreadable(f"{url}: HTTP {error.status}: {detail}") from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise PrometheusUnreadable(f"{url}: {error}") from None
        return answer_data(url, body)
