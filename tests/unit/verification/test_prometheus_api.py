"""How verify reaches Prometheus: the service proxy's paths through the stack's own Kubernetes client, and a URL
with a bearer token and a CA, against stand-ins on 127.0.0.1 (a TLS one with a CA made here by openssl)."""

import json
import subprocess

import pytest

from configuration.connection import Secret
from patch_release.connection import kubernetes_api
from tests.support.prometheus_stub import StubPrometheus
from verification.prometheus_api import (
    PrometheusAtUrl,
    PrometheusThroughServiceProxy,
    PrometheusUnreadable,
    service_proxy_path,
)
from verification.prometheus_targets import CONFIG_PATH, TARGETS_PATH

TOKEN = "e2e-verify-token-7f3a"
PROXY = "/api/v1/namespaces/monitoring/services/kube-prometheus-stack-prometheus:http-web/proxy"
TARGETS = {"activeTargets": []}


def status(code: int, reason: str, message: str) -> tuple[int, dict]:
    """A Kubernetes Status, as the API server answers a refused or failed proxy request."""
    return code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason}


@pytest.mark.parametrize(
    ("service", "port", "scheme", "path"),
    [
        ("kube-prometheus-stack-prometheus", "http-web", None, PROXY),
        ("prometheus-operated", "9090", None, "/api/v1/namespaces/monitoring/services/prometheus-operated:9090/proxy"),
        ("prometheus", "web", "https", "/api/v1/namespaces/monitoring/services/https:prometheus:web/proxy"),
    ],
)
def test_the_service_proxy_path_names_the_port_by_number_or_name_and_the_scheme_when_set(service, port, scheme, path):
    assert service_proxy_path("monitoring", service, port, scheme) == path


@pytest.fixture
def stub():
    server = StubPrometheus()
    yield server
    server.close()


def kubeconfig(server: str, token: str = TOKEN) -> str:
    """A kubeconfig whose user authenticates with a bearer token, as an exec plugin or a ServiceAccount does."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": server}}],
            "users": [{"name": "u", "user": {"token": token}}],
            "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "ctx",
        }
    )


def proxy_of(api, port="http-web", scheme=None):
    return PrometheusThroughServiceProxy(api, "monitoring", "kube-prometheus-stack-prometheus", port, scheme)


def test_the_service_proxy_is_asked_with_the_stacks_own_client_and_credentials(stub):
    stub.answer(PROXY + TARGETS_PATH, TARGETS)
    stub.answer(PROXY + CONFIG_PATH, {"yaml": "scrape_configs: []\n"})
    with kubernetes_api({"kubeconfig": kubeconfig(stub.url), "context": "ctx"}) as api:
        prometheus = proxy_of(api)
        assert prometheus.where == stub.url + PROXY
        assert prometheus.fetch(prometheus.where + TARGETS_PATH, 5) == TARGETS
        assert prometheus.fetch(prometheus.where + CONFIG_PATH, 5) == {"yaml": "scrape_configs: []\n"}
    # The query stays as Prometheus' API spells it: the client neither re-encodes the path nor drops the query.
    assert stub.requests == [PROXY + TARGETS_PATH, PROXY + CONFIG_PATH]
    assert [h["Authorization"] for h in stub.headers] == [f"Bearer {TOKEN}"] * 2


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (
            status(403, "Forbidden", 'services "kube-prometheus-stack-prometheus:http-web" is forbidden'),
            'HTTP 403: services "kube-prometheus-stack-prometheus:http-web" is forbidden (reading Prometheus through '
            "the service proxy needs get on services/proxy kube-prometheus-stack-prometheus:http-web in namespace "
            "monitoring: rbac/verify-service-proxy.yaml)",
        ),
        (
            status(503, "ServiceUnavailable", 'no endpoints available for service "kube-prometheus-stack-prometheus"'),
            'HTTP 503: no endpoints available for service "kube-prometheus-stack-prometheus"',
        ),
        (
            (400, {"status": "error", "errorType": "bad_data", "error": 'invalid parameter "state"'}),
            'HTTP 400: bad_data: invalid parameter "state"',
        ),
        ((200, "<!doctype html><title>Grafana</title>"), "not a Prometheus API answer: b'<!doctype html>"),
    ],
)
def test_a_refused_or_failed_proxy_request_names_the_url_and_what_came_back(stub, answer, error):
    stub.answers[PROXY + TARGETS_PATH] = answer
    with kubernetes_api({"kubeconfig": kubeconfig(stub.url), "context": "ctx"}) as api:
        prometheus = proxy_of(api)
        with pytest.raises(PrometheusUnreadable) as raised:
            prometheus.fetch(prometheus.where + TARGETS_PATH, 5)
    assert str(raised.value).startswith(f"{stub.url}{PROXY}{TARGETS_PATH}: {error}")
    assert TOKEN not in str(raised.value)


def test_an_api_server_that_does_not_answer_is_named(stub):
    url = stub.url
    stub.close()
    with kubernetes_api({"kubeconfig": kubeconfig(url), "context": "ctx"}) as api:
        prometheus = proxy_of(api, port="9090", scheme="https")
        with pytest.raises(PrometheusUnreadable) as raised:
            prometheus.fetch(prometheus.where + TARGETS_PATH, 2)
    where = f"{url}/api/v1/namespaces/monitoring/services/https:kube-prometheus-stack-prometheus:9090/proxy"
    assert str(raised.value).startswith(f"{where}{TARGETS_PATH}: ")
    assert "Connection refused" in str(raised.value)


# --------------------------------------------------------------------------- a URL with a token and a CA


def openssl(folder, *args):
    subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A CA, and a certificate it signed for 127.0.0.1; and a second CA that signed nothing here."""
    folder = tmp_path_factory.mktemp("tls")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for name in ("ca", "other-ca"):
        openssl(
            folder, "req", "-x509", *ec, "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "1",
            "-subj", f"/CN=verify-{name}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
    openssl(folder, "req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (folder / "server.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl(
        folder, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "1", "-extfile", "server.ext",
    )  # fmt: skip
    return folder


@pytest.fixture
def https_stub(tls):
    server = StubPrometheus(tls=(str(tls / "server.crt"), str(tls / "server.key")))
    yield server
    server.close()


def test_the_token_goes_in_the_authorization_header_to_a_prometheus_checked_against_the_ca_file(https_stub, tls):
    https_stub.answer(TARGETS_PATH, TARGETS)
    prometheus = PrometheusAtUrl(https_stub.url + "/", bearer_token=Secret(TOKEN), ca_cert_file=str(tls / "ca.crt"))
    assert prometheus.where == https_stub.url
    assert prometheus.fetch(prometheus.where + TARGETS_PATH, 5) == TARGETS
    assert https_stub.requests == [TARGETS_PATH]
    assert https_stub.headers[0]["Authorization"] == f"Bearer {TOKEN}"


def test_the_ca_inline_does_the_same_and_no_token_sends_no_header(https_stub, tls):
    https_stub.answer(TARGETS_PATH, TARGETS)
    prometheus = PrometheusAtUrl(https_stub.url, ca_cert=(tls / "ca.crt").read_text())
    assert prometheus.fetch(prometheus.where + TARGETS_PATH, 5) == TARGETS
    assert "Authorization" not in https_stub.headers[0]


@pytest.mark.parametrize("ca", ["other-ca", None])
def test_a_certificate_another_ca_signed_is_refused_before_the_token_is_sent(https_stub, tls, ca):
    https_stub.answer(TARGETS_PATH, TARGETS)
    ca_file = str(tls / f"{ca}.crt") if ca else None  # None: the system's CAs, which never signed this one
    prometheus = PrometheusAtUrl(https_stub.url, bearer_token=Secret(TOKEN), ca_cert_file=ca_file)
    with pytest.raises(PrometheusUnreadable) as raised:
        prometheus.fetch(prometheus.where + TARGETS_PATH, 5)
    assert str(raised.value).startswith(f"{https_stub.url}{TARGETS_PATH}: [SSL: CERTIFICATE_VERIFY_FAILED]")
    assert https_stub.requests == []
    assert TOKEN not in str(raised.value)


def test_a_refused_token_is_reported_without_it(https_stub, tls):
    https_stub.answers[TARGETS_PATH] = (401, "Unauthorized\n")
    prometheus = PrometheusAtUrl(https_stub.url, bearer_token=Secret(TOKEN), ca_cert_file=str(tls / "ca.crt"))
    with pytest.raises(PrometheusUnreadable) as raised:
        prometheus.fetch(prometheus.where + TARGETS_PATH, 5)
    assert str(raised.value) == f"{https_stub.url}{TARGETS_PATH}: HTTP 401: Unauthorized"


def test_a_redirect_does_not_carry_the_token_on(https_stub, stub, tls):
    stub.answer(TARGETS_PATH, TARGETS)
    https_stub.answers[TARGETS_PATH] = (302, "", {"Location": stub.url + TARGETS_PATH})
    prometheus = PrometheusAtUrl(https_stub.url, bearer_token=Secret(TOKEN), ca_cert_file=str(tls / "ca.crt"))
    assert prometheus.fetch(prometheus.where + TARGETS_PATH, 5) == TARGETS
    assert https_stub.headers[0]["Authorization"] == f"Bearer {TOKEN}"
    assert stub.requests == [TARGETS_PATH]
    assert "Authorization" not in stub.headers[0]


def test_an_unreadable_ca_file_is_an_error_when_the_reader_is_made(tmp_path):
    with pytest.raises(FileNotFoundError):
        PrometheusAtUrl("https://prometheus.example:9090", ca_cert_file=str(tmp_path / "missing.crt"))
