"""`verify` without a port-forward, on Pulumi's mock engine: through the API server's service proxy with the stack's
own kubeconfig (`verify.prometheus`), and at an https:// URL with a bearer token and a CA; the token stays a
secret; the proxy form needs the component's own connection."""

import json
import subprocess

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi import RunError

from components.calico_monitoring import CalicoMonitoring
from configuration import load_settings
from tests.program.components.test_verification import Cluster, target
from tests.support.prometheus_stub import StubPrometheus
from tools.evaluator.mock_engine import evaluate

DATASTORE = {"calico-monitoring:datastore": {"type": "kubernetes"}}
TARGETS = "/api/v1/targets?state=active"
PROXY = "/api/v1/namespaces/monitoring/services/kube-prometheus-stack-prometheus:http-web/proxy"
SERVICE = {"namespace": "monitoring", "service": "kube-prometheus-stack-prometheus", "port": "http-web"}
TOKEN = "verify-bearer-token-51c9"
KUBECONFIG_TOKEN = "kubeconfig-user-token-83be"
EVERY_TARGET = {"activeTargets": [*[target("monitoring/felix")] * 3, target("monitoring/calico-kube-controllers")]}
SCRAPE_TARGETS = {
    "monitoring/felix": {"up": 3, "expected": 3},
    "monitoring/calico-kube-controllers": {"up": 1, "expected": 1},
}


def kubeconfig(server: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "stack-cluster", "cluster": {"server": server}}],
            "users": [{"name": "deployer", "user": {"token": KUBECONFIG_TOKEN}}],
            "contexts": [{"name": "stack", "context": {"cluster": "stack-cluster", "user": "deployer"}}],
            "current-context": "stack",
        }
    )


@pytest.fixture
def api_server():
    """The API server as the service proxy path sees it: the stand-in answers Prometheus' API under the proxy."""
    server = StubPrometheus()
    server.answer(PROXY + TARGETS, EVERY_TARGET)
    yield server
    server.close()


def test_the_service_proxy_is_read_with_the_kubeconfig_text_of_the_stack(api_server):
    config = {
        **DATASTORE,
        "kubernetes:kubeconfig": kubeconfig(api_server.url),
        "calico-monitoring:verify": {"prometheus": SERVICE},
    }
    evaluation = evaluate(config, ["kubernetes:kubeconfig"], outputs=Cluster(scheduled=3))
    assert evaluation.stack_outputs["scrapeTargets"] == SCRAPE_TARGETS
    assert api_server.requests == [PROXY + TARGETS]
    assert api_server.headers[0]["Authorization"] == f"Bearer {KUBECONFIG_TOKEN}"


def test_the_service_proxy_is_read_with_the_kubeconfig_file_and_context_of_the_stack(api_server, tmp_path):
    # The file's current context names another cluster: the stack's context is the one used.
    document = json.loads(kubeconfig(api_server.url))
    document["clusters"].append({"name": "elsewhere", "cluster": {"server": "http://127.0.0.1:9"}})
    document["contexts"].append({"name": "elsewhere", "context": {"cluster": "elsewhere", "user": "deployer"}})
    document["current-context"] = "elsewhere"
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(document))
    port_by_number = {**SERVICE, "port": 9090, "scheme": "https"}
    proxy = "/api/v1/namespaces/monitoring/services/https:kube-prometheus-stack-prometheus:9090/proxy"
    api_server.answer(proxy + TARGETS, EVERY_TARGET)
    config = {
        **DATASTORE,
        "kubernetes:kubeconfig": str(path),
        "kubernetes:context": "stack",
        "calico-monitoring:verify": {"prometheus": port_by_number},
    }
    evaluation = evaluate(config, outputs=Cluster(scheduled=3))
    assert evaluation.stack_outputs["scrapeTargets"] == SCRAPE_TARGETS
    assert api_server.requests == [proxy + TARGETS]


def test_a_preview_builds_no_client_and_sends_no_request(api_server):
    config = {
        **DATASTORE,
        "kubernetes:kubeconfig": kubeconfig(api_server.url),
        "calico-monitoring:verify": {"prometheus": SERVICE},
    }
    evaluate(config, ["kubernetes:kubeconfig"], outputs=Cluster(), preview=True)
    assert api_server.requests == []


def test_a_provider_handed_in_cannot_be_used_for_the_service_proxy(api_server):
    def program():
        provider = k8s.Provider("platform-cluster", kubeconfig="")
        CalicoMonitoring("calico", load_settings(), opts=pulumi.ResourceOptions(providers=[provider]))

    config = {**DATASTORE, "kubernetes:context": "c", "calico-monitoring:verify": {"prometheus": SERVICE}}
    with pytest.raises(RunError) as error:
        evaluate(config, outputs=Cluster(), program=program)
    assert str(error.value) == (
        "calico-monitoring:verify.prometheus: reads Prometheus through the API server with the component's own "
        "Kubernetes connection, which a provider handed in through opts does not show; set verify.prometheusUrl "
        "instead (with bearerToken and caCertFile if Prometheus needs them)"
    )
    assert api_server.requests == []


# --------------------------------------------------------------------------- a URL with a token and a CA


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", "server.key", "-out", "server.crt", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:TRUE"],
        cwd=folder, check=True, capture_output=True,
    )  # fmt: skip
    return folder


@pytest.fixture
def https_prometheus(tls):
    server = StubPrometheus(tls=(str(tls / "server.crt"), str(tls / "server.key")))
    server.answer(TARGETS, EVERY_TARGET)
    yield server
    server.close()


def everything_registered(evaluation) -> str:
    """Every input of every resource, secrets revealed, and the stack's outputs."""
    return repr([(r.name, r.plain_inputs) for r in evaluation.registrations]) + repr(evaluation.stack_outputs)


@pytest.mark.parametrize("ca", ["caCertFile", "caCert"])
def test_an_https_url_is_read_with_the_token_and_checked_against_the_ca(https_prometheus, tls, ca):
    verify = {"prometheusUrl": https_prometheus.url, "bearerToken": TOKEN}
    verify[ca] = str(tls / "server.crt") if ca == "caCertFile" else (tls / "server.crt").read_text()
    config = {**DATASTORE, "kubernetes:context": "c", "calico-monitoring:verify": verify}
    evaluation = evaluate(config, ["calico-monitoring:verify"], outputs=Cluster(scheduled=3))
    assert evaluation.stack_outputs["scrapeTargets"] == SCRAPE_TARGETS
    assert https_prometheus.headers[0]["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in everything_registered(evaluation)


def test_a_token_not_stored_encrypted_stops_the_program_before_any_resource(https_prometheus):
    verify = {"prometheusUrl": https_prometheus.url, "bearerToken": TOKEN}
    with pytest.raises(RunError) as error:
        evaluate({**DATASTORE, "kubernetes:context": "c", "calico-monitoring:verify": verify})
    assert str(error.value) == (
        "invalid stack configuration:\n  - calico-monitoring:verify.bearerToken: must be stored encrypted; set it "
        "with `pulumi config set --secret --path calico-monitoring:verify.bearerToken` (value not shown)"
    )
    assert TOKEN not in str(error.value)
    assert https_prometheus.requests == []


def test_a_missing_ca_file_fails_up_naming_the_setting(https_prometheus, tmp_path):
    missing = tmp_path / "ca.crt"
    verify = {"prometheusUrl": https_prometheus.url, "caCertFile": str(missing)}
    config = {**DATASTORE, "kubernetes:context": "c", "calico-monitoring:verify": verify}
    with pytest.raises(RunError) as error:
        evaluate(config, outputs=Cluster(scheduled=3))
    assert str(error.value).startswith(f"calico-monitoring:verify.caCertFile: cannot read {missing}: ")
    assert https_prometheus.requests == []
