"""`verify`'s ways to reach Prometheus: `prometheusUrl` (with `bearerToken` and a CA), or `prometheus`, its
Service through the API server's service proxy; exactly one, each problem named with what is accepted."""

import subprocess

import pytest

from configuration import ConfigError, VerifySettings, parse_settings
from configuration.connection import Secret
from configuration.monitors import PrometheusServiceSettings

KDD = {"kubernetes:context": "prod", "calico-monitoring:datastore": {"type": "kubernetes"}}
SECRET_VERIFY = ["calico-monitoring:verify"]
SERVICE = {"namespace": "monitoring", "service": "kube-prometheus-stack-prometheus", "port": "http-web"}


def verify(value, secret=()):
    return parse_settings({**KDD, "calico-monitoring:verify": value}, secret).verify


def problems(value, secret=()) -> list[str]:
    with pytest.raises(ConfigError) as error:
        verify(value, secret)
    lines = str(error.value).splitlines()
    assert lines[0] == "invalid stack configuration:"
    return [line.removeprefix("  - calico-monitoring:verify") for line in lines[1:]]


@pytest.fixture(scope="module")
def ca_pem(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("ca")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=verify-settings-ca"],
        cwd=folder, check=True, capture_output=True,
    )  # fmt: skip
    return (folder / "ca.crt").read_text()


def test_the_service_through_the_proxy_by_port_name_or_number():
    assert verify({"prometheus": SERVICE}) == VerifySettings(prometheus=PrometheusServiceSettings(**SERVICE))
    # YAML and `pulumi config set --path …port 9090` give a number: the Service port of that number.
    by_number = verify({"prometheus": {**SERVICE, "port": 9090, "scheme": "https"}, "timeoutSeconds": 600})
    assert by_number.prometheus == PrometheusServiceSettings(
        namespace="monitoring", service="kube-prometheus-stack-prometheus", port="9090", scheme="https"
    )
    assert by_number.timeout_seconds == 600
    assert by_number.prometheus_url is None


def test_a_url_with_a_token_and_a_ca(ca_pem, tmp_path):
    url = "https://prometheus.example.com/prometheus"
    with_file = verify(
        {"prometheusUrl": url, "bearerToken": "t0ken", "caCertFile": "/etc/ssl/ops-ca.pem"}, SECRET_VERIFY
    )
    assert with_file.prometheus_url == url
    assert with_file.bearer_token == Secret("t0ken")
    assert "t0ken" not in repr(with_file)
    assert with_file.ca_cert_file == "/etc/ssl/ops-ca.pem"
    assert verify({"prometheusUrl": url, "caCert": ca_pem}).ca_cert == ca_pem


SERVICE_BAD = [
    (
        {**SERVICE, "namespace": "Monitoring"},
        '.prometheus.namespace: got "Monitoring"; expected a Kubernetes namespace name',
    ),
    (
        {**SERVICE, "service": "9prometheus"},
        '.prometheus.service: got "9prometheus"; expected a Kubernetes Service name',
    ),
    (
        {**SERVICE, "port": 0},
        ".prometheus.port: got 0; expected a port of the Service: its number (1 to 65535) or its name",
    ),
    (
        {**SERVICE, "port": "65536"},
        '.prometheus.port: got "65536"; expected a port of the Service: its number (1 to 65535) or its name',
    ),
    (
        {**SERVICE, "port": "http_web"},
        '.prometheus.port: got "http_web"; expected a port of the Service: its number (1 to 65535) or its name',
    ),
    (
        {**SERVICE, "port": True},
        ".prometheus.port: got true; expected a port of the Service: its number (1 to 65535) or its name",
    ),
    ({**SERVICE, "scheme": "ftp"}, '.prometheus.scheme: got "ftp"; expected "http" or "https"'),
    (
        {**SERVICE, "name": "prometheus"},
        ".prometheus.name: unknown setting; accepted settings are namespace, port, scheme, service",
    ),
]


@pytest.mark.parametrize(("service", "message"), SERVICE_BAD, ids=[m.split(":")[0] for _, m in SERVICE_BAD])
def test_a_bad_service_value_is_named_with_what_is_accepted(service, message):
    assert problems({"prometheus": service}) == [message]


def test_each_missing_service_field_is_named_and_a_string_is_not_an_object():
    assert problems({"prometheus": {}}) == [
        ".prometheus.namespace: missing; it is required (the namespace of Prometheus' Service)",
        ".prometheus.service: missing; it is required (the name of Prometheus' Service)",
        ".prometheus.port: missing; it is required (the Service's port, its number or its name)",
    ]
    assert problems({"prometheus": "monitoring/prometheus-operated:9090"}) == [
        '.prometheus: got "monitoring/prometheus-operated:9090"; expected an object {namespace, service, port, scheme?}'
    ]


def test_two_ways_at_once_are_refused_naming_both():
    assert problems({"prometheusUrl": "http://localhost:9090", "prometheus": SERVICE}) == [
        ": set either prometheusUrl (Prometheus at a URL) or prometheus (its Service, through the API server's "
        "service proxy), not both"
    ]


def test_the_token_and_the_ca_go_with_the_url_only(ca_pem):
    assert problems({"prometheus": SERVICE, "bearerToken": "t0ken", "caCert": ca_pem}, SECRET_VERIFY) == [
        ": bearerToken and caCert go with prometheusUrl only: through prometheus, the API server is reached with "
        "the stack's own Kubernetes connection; unset bearerToken and caCert or use prometheusUrl"
    ]


def test_the_token_and_the_ca_need_https_and_one_ca_at_most(ca_pem):
    url = "http://prometheus.example.com"
    assert problems({"prometheusUrl": url, "bearerToken": "t0ken", "caCertFile": "/ca.pem"}, SECRET_VERIFY) == [
        ".bearerToken: is sent only to an https:// prometheusUrl (over http:// anyone on the way can read it)",
        ".caCertFile: checks an https:// prometheusUrl; this one is http://",
    ]
    assert problems({"prometheusUrl": "https://p.example.com", "caCertFile": "/ca.pem", "caCert": ca_pem}) == [
        ": set either caCertFile (a path) or caCert (inline PEM), not both"
    ]


def test_a_token_must_be_stored_encrypted_and_is_never_shown():
    assert problems({"prometheusUrl": "https://p.example.com", "bearerToken": "t0ken"}) == [
        ".bearerToken: must be stored encrypted; set it with "
        "`pulumi config set --secret --path calico-monitoring:verify.bearerToken` (value not shown)"
    ]
    assert problems({"prometheusUrl": "https://p.example.com", "bearerToken": ""}, SECRET_VERIFY) == [
        ".bearerToken: expected a non-empty string (value not shown: it is secret)"
    ]
    # In a key stored encrypted, no value of it is shown.
    shown = problems(
        {"prometheusUrl": "https://p.example.com", "bearerToken": "t0ken", "timeoutSeconds": 5}, SECRET_VERIFY
    )
    assert shown == [".timeoutSeconds: got [secret]; expected a whole number from 10 to 3600"]


def test_an_inline_ca_must_be_pem_certificates(ca_pem):
    assert problems({"prometheusUrl": "https://p.example.com", "caCert": "ops-ca.pem"}) == [
        '.caCert: got "ops-ca.pem"; expected PEM certificates'
    ]
    (cut,) = problems({"prometheusUrl": "https://p.example.com", "caCert": ca_pem[:200] + ca_pem[-26:]})
    assert cut.startswith(".caCert: got ") and cut.endswith("; expected PEM certificates")


def test_neither_way_is_still_the_missing_url():
    assert problems({"bearerToken": "t0ken"}, SECRET_VERIFY) == [
        ".prometheusUrl: missing; it is required (setting it turns verification on)"
    ]
