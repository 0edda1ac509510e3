"""Stack config parsing: defaults, accepted forms, and one clear message per bad value."""

import json

import pytest

from configuration import (
    ConfigError,
    EtcdDatastore,
    KubernetesDatastore,
    PodMonitorSettings,
    Secret,
    VerifySettings,
    duration_ms,
    is_port_name,
    parse_settings,
)

KDD = {"kubernetes:context": "prod", "calico-monitoring:datastore": {"type": "kubernetes"}}
ETCD = {"type": "etcdv3", "endpoints": ["https://10.0.0.1:2379"]}


def with_key(key, value, base=KDD):
    return {**base, f"calico-monitoring:{key}": value}


def test_defaults_follow_the_tutorial():
    settings = parse_settings(KDD)
    assert settings.felix.metrics_port == 9091
    assert settings.calico_node.namespace == "kube-system"
    assert settings.calico_node.daemon_set == "calico-node"
    assert settings.calico_node.container == "calico-node"
    assert settings.calico_node.port_name == "http-metrics"
    assert settings.pod_monitor.name == "felix"
    assert settings.pod_monitor.namespace == "monitoring"
    assert settings.pod_monitor.interval == "15s"
    assert settings.pod_monitor.path == "/metrics"
    assert settings.pod_monitor.job == "monitoring/felix"
    assert settings.calicoctl.path == "calicoctl"
    assert settings.calicoctl.allow_version_mismatch is False
    assert settings.felix.go_metrics is None and settings.felix.process_metrics is None


def test_objects_arrive_json_encoded_as_from_the_cli():
    raw = {key: json.dumps(value) if isinstance(value, dict) else value for key, value in KDD.items()}
    assert parse_settings(raw) == parse_settings(KDD)


def test_kubernetes_datastore_follows_the_provider():
    settings = parse_settings({**KDD, "kubernetes:kubeconfig": "/home/ops/.kube/prod"})
    assert settings.datastore == KubernetesDatastore(
        kubeconfig_path="/home/ops/.kube/prod", kubeconfig_content=None, context="prod"
    )


def test_kubernetes_datastore_own_kubeconfig_needs_its_own_context():
    with pytest.raises(ConfigError, match=r"calico-monitoring:datastore: calicoctl would use whatever kubectl"):
        parse_settings(with_key("datastore", {"type": "kubernetes", "kubeconfig": "/etc/calico/admin.conf"}))
    settings = parse_settings(
        with_key("datastore", {"type": "kubernetes", "kubeconfig": "/etc/calico/admin.conf", "context": "admin"})
    )
    assert settings.datastore.kubeconfig_path == "/etc/calico/admin.conf"
    assert settings.datastore.context == "admin"


def test_inline_kubeconfig_pins_its_current_context():
    content = "apiVersion: v1\nkind: Config\ncurrent-context: ci\ncontexts: []\n"
    settings = parse_settings({"kubernetes:kubeconfig": content, "calico-monitoring:datastore": {"type": "kubernetes"}})
    assert settings.datastore.kubeconfig_content == Secret(content)
    assert settings.datastore.context == "ci"
    assert settings.kubernetes.kubeconfig_path is None


def test_context_is_required_when_nothing_pins_it():
    with pytest.raises(ConfigError, match=r"kubernetes:context"):
        parse_settings({"calico-monitoring:datastore": {"type": "kubernetes"}})


def test_etcd_with_tls_files():
    settings = parse_settings(
        with_key(
            "datastore",
            {**ETCD, "keyFile": "/k.pem", "certFile": "/c.pem", "caCertFile": "/ca.pem"},
        )
    )
    assert settings.datastore == EtcdDatastore(
        endpoints=("https://10.0.0.1:2379",), key_file="/k.pem", cert_file="/c.pem", ca_cert_file="/ca.pem"
    )


def test_etcd_inline_secrets_are_wrapped():
    settings = parse_settings(
        with_key("datastore", {**ETCD, "key": "KEY PEM", "cert": "CERT PEM", "username": "u", "password": "pw"}),
        secret_keys={"calico-monitoring:datastore"},
    )
    assert settings.datastore.key == Secret("KEY PEM")
    assert settings.datastore.password == Secret("pw")
    assert "KEY PEM" not in repr(settings) and "pw" not in repr(settings.datastore.password)


BAD = [
    # (key, value, fragments the message must contain)
    ("datastore", {"type": "etcd"}, ['calico-monitoring:datastore.type: got "etcd"', '"kubernetes" or "etcdv3"']),
    ("datastore", {"type": "kubernetes", "kubeconfg": "/x"}, ["calico-monitoring:datastore.kubeconfg: unknown"]),
    ("datastore", {"type": "etcdv3"}, ["calico-monitoring:datastore.endpoints: got null", "non-empty list"]),
    ("datastore", {"type": "etcdv3", "endpoints": []}, ["calico-monitoring:datastore.endpoints: got []"]),
    ("datastore", {"type": "etcdv3", "endpoints": [""]}, ['datastore.endpoints[0]: got ""', "http:// or https://"]),
    ("datastore", {"type": "etcdv3", "endpoints": ["10.0.0.1:2379"]}, ['endpoints[0]: got "10.0.0.1:2379"']),
    ("datastore", {"type": "etcdv3", "endpoints": ["ftp://e:2379"]}, ['endpoints[0]: got "ftp://e:2379"']),
    ("datastore", {**ETCD, "keyFile": "/k.pem"}, ["a client key needs its certificate"]),
    ("datastore", {**ETCD, "certFile": "/c.pem"}, ["a client key needs its certificate"]),
    ("datastore", {**ETCD, "username": "root"}, ["username and password go together"]),
    ("datastore", {**ETCD, "keyFile": "/k", "key": "x", "certFile": "/c"}, ["either keyFile (a path) or key"]),
    ("datastore", "kubernetes", ["calico-monitoring:datastore: expected an object"]),
    ("felix", {"metricsPort": 0}, ["calico-monitoring:felix.metricsPort: got 0", "1 to 65535"]),
    ("felix", {"metricsPort": 65536}, ["felix.metricsPort: got 65536"]),
    ("felix", {"metricsPort": "9091"}, ['felix.metricsPort: got "9091"']),
    ("felix", {"metricsPort": True}, ["felix.metricsPort: got true"]),
    ("felix", {"goMetrics": "yes"}, ['felix.goMetrics: got "yes"; expected true or false']),
    ("felix", {"metricsHost": "0.0.0.0; rm -rf /"}, ["felix.metricsHost", "IP address or host name"]),
    ("felix", {"port": 9091}, ["calico-monitoring:felix.port: unknown setting", "metricsPort"]),
    ("calicoNode", {"namespace": "Kube_System"}, ['calicoNode.namespace: got "Kube_System"']),
    ("calicoNode", {"portName": "http-metrics-felix"}, ['calicoNode.portName: got "http-metrics-felix"']),
    ("calicoNode", {"daemonSet": ""}, ['calicoNode.daemonSet: got ""']),
    ("podMonitor", {"interval": "15"}, ['podMonitor.interval: got "15"', "Prometheus duration"]),
    ("podMonitor", {"interval": "fast"}, ['podMonitor.interval: got "fast"']),
    ("podMonitor", {"interval": "0s"}, ['podMonitor.interval: got "0s"']),
    ("podMonitor", {"scrapeTimeout": "30s"}, ['podMonitor.scrapeTimeout: got "30s"', "at most the scrape interval"]),
    ("podMonitor", {"name": "Felix"}, ['podMonitor.name: got "Felix"', "Kubernetes object name"]),
    ("podMonitor", {"path": "metrics"}, ['podMonitor.path: got "metrics"']),
    ("podMonitor", {"labels": {"release": "kube prometheus"}}, ['podMonitor.labels.release: got "kube prometheus"']),
    ("podMonitor", {"labels": {"bad key!": "x"}}, ['podMonitor.labels.bad key!: got "bad key!"']),
    ("podMonitor", {"labels": ["release"]}, ['podMonitor.labels: got ["release"]']),
    ("calicoctl", {"path": ""}, ['calicoctl.path: got ""']),
    ("calicoctl", {"allowVersionMismatch": "true"}, ['calicoctl.allowVersionMismatch: got "true"']),
    ("calicoctl", {"timeoutSeconds": 2}, ["calicoctl.timeoutSeconds: got 2; expected a whole number from 5 to 3600"]),
    ("datastor", {"type": "kubernetes"}, ["calico-monitoring:datastor: unknown setting"]),
]


@pytest.mark.parametrize(("key", "value", "fragments"), BAD, ids=[f"{k}={v}" for k, v, _ in BAD])
def test_bad_values_are_named_with_what_is_accepted(key, value, fragments):
    with pytest.raises(ConfigError) as error:
        parse_settings(with_key(key, value))
    for fragment in fragments:
        assert fragment in str(error.value)


def test_missing_datastore_is_reported():
    with pytest.raises(ConfigError, match=r"calico-monitoring:datastore: missing; it is required"):
        parse_settings({"kubernetes:context": "prod"})


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as error:
        parse_settings({**with_key("felix", {"metricsPort": 0}), "calico-monitoring:podMonitor": {"interval": "x"}})
    assert "felix.metricsPort" in str(error.value) and "podMonitor.interval" in str(error.value)


def test_inline_secrets_must_be_stored_encrypted_and_are_never_echoed():
    config = with_key(
        "datastore", {**ETCD, "key": "-----BEGIN KEY-----", "cert": "c", "username": "u", "password": "p4ss"}
    )
    with pytest.raises(ConfigError) as error:
        parse_settings(config)  # not in secret_keys: would sit in the stack file in plain text
    assert "pulumi config set --secret --path" in str(error.value)
    assert "BEGIN KEY" not in str(error.value) and "p4ss" not in str(error.value)


def test_a_bad_value_inside_a_secret_object_is_not_echoed():
    config = with_key("datastore", {**ETCD, "username": "u", "password": "hunter2", "endpoints": ["hunter2"]})
    with pytest.raises(ConfigError) as error:
        parse_settings(config, secret_keys={"calico-monitoring:datastore"})
    assert "hunter2" not in str(error.value)
    assert "datastore.endpoints[0]: got [secret]" in str(error.value)


@pytest.mark.parametrize(
    ("text", "ms"),
    [("15s", 15_000), ("1m30s", 90_000), ("1h", 3_600_000), ("500ms", 500), ("15", None), ("fast", None), ("", None)],
)
def test_durations(text, ms):
    assert duration_ms(text) == ms


@pytest.mark.parametrize(
    ("name", "ok"),
    [("http-metrics", True), ("metrics", True), ("9091", False), ("a--b", False), ("-a", False), ("x" * 16, False)],
)
def test_port_names(name, ok):
    assert is_port_name(name) is ok


def test_project_defaults_as_the_cli_passes_them_change_nothing():
    # Pulumi.yaml declares optional objects with default {} and renderYamlTo with "".
    defaults = {
        f"calico-monitoring:{key}": "{}"
        for key in (
            "calicoctl",
            "felix",
            "calicoNode",
            "podMonitor",
            "typha",
            "kubeControllers",
            "alerts",
            "dashboards",
            "verify",
        )
    }
    defaults |= {"calico-monitoring:install": "manifest", "calico-monitoring:renderYamlTo": ""}
    assert parse_settings({**defaults, **KDD}) == parse_settings(KDD)


def test_operator_install_defaults():
    settings = parse_settings(with_key("install", "operator"))
    assert settings.calico_node.namespace == "calico-system"
    assert settings.felix.scrape == "service"
    assert settings.typha.enabled and settings.typha.namespace == "calico-system"
    assert settings.jobs == {
        "felix": "monitoring/felix",
        "typha": "monitoring/calico-typha",
        "kube-controllers": "monitoring/calico-kube-controllers",
    }


def test_alerts_cluster_label():
    assert parse_settings(KDD).alerts.cluster_label is None
    assert parse_settings(with_key("alerts", {"clusterLabel": "cluster"})).alerts.cluster_label == "cluster"


def test_manifest_install_defaults_leave_typha_off():
    settings = parse_settings(KDD)
    assert settings.install == "manifest" and settings.typha.enabled is False
    assert settings.jobs == {"felix": "monitoring/felix", "kube-controllers": "monitoring/calico-kube-controllers"}


MORE_BAD = [
    ("install", "helm", ['calico-monitoring:install: got "helm"; expected "manifest" or "operator"']),
    (
        "felix",
        {"scrape": "endpoints"},
        ['calico-monitoring:felix.scrape: got "endpoints"; expected "pod" or "service"'],
    ),
    ("typha", {"metricsPort": 0}, ["calico-monitoring:typha.metricsPort: got 0"]),
    ("kubeControllers", {"enable": False}, ["calico-monitoring:kubeControllers.enable: unknown setting"]),
    ("alerts", {"overrides": {"CalicoFelixDwn": {"for": "5m"}}}, ["alerts.overrides.CalicoFelixDwn", "unknown alert"]),
    ("alerts", {"overrides": {"CalicoFelixDown": {"for": "5 minutes"}}}, ["CalicoFelixDown.for", "5 minutes"]),
    ("alerts", {"runbookBaseUrl": "docs/runbooks.md"}, ['alerts.runbookBaseUrl: got "docs/runbooks.md"']),
    (
        "alerts",
        {"clusterLabel": "k8s-cluster"},
        ['alerts.clusterLabel: got "k8s-cluster"; expected a Prometheus label'],
    ),
    ("alerts", {"clusterLabel": "__name__"}, ['alerts.clusterLabel: got "__name__"']),
    ("dashboards", {"datasource": "my prometheus"}, ['dashboards.datasource: got "my prometheus"']),
    ("dashboards", {"import": "a.json"}, ['dashboards.import: got "a.json"; expected a list']),
    ("renderYamlTo", 5, ["calico-monitoring:renderYamlTo: got 5; expected a directory path"]),
    ("typha", {"enabled": True, "monitorName": "felix"}, ["must differ"]),
]


@pytest.mark.parametrize(("key", "value", "fragments"), MORE_BAD, ids=[f"{k}={v}" for k, v, _ in MORE_BAD])
def test_more_bad_values(key, value, fragments):
    with pytest.raises(ConfigError) as error:
        parse_settings(with_key(key, value))
    for fragment in fragments:
        assert fragment in str(error.value)


def test_label_values_set_as_numbers_by_pulumi_config_set_path_are_the_text_meant():
    # `pulumi config set --path calico-monitoring:dashboards.labels.grafana_dashboard 1` stores the number 1.
    values = {
        "kubernetes:context": "c",
        "calico-monitoring:datastore": '{"type": "kubernetes"}',
        "calico-monitoring:dashboards": '{"labels": {"grafana_dashboard": 1, "public": true}}',
    }
    settings = parse_settings(values)
    assert dict(settings.dashboards.labels) == {"grafana_dashboard": "1", "public": "true"}


def test_verify_is_off_unless_a_prometheus_url_is_set():
    assert parse_settings(KDD).verify is None
    assert parse_settings(with_key("verify", {})).verify is None
    assert parse_settings(
        with_key("verify", {"prometheusUrl": "http://prometheus-operated.monitoring:9090"})
    ).verify == (VerifySettings(prometheus_url="http://prometheus-operated.monitoring:9090", timeout_seconds=180))
    behind_a_proxy = {"prometheusUrl": "https://ops.example.com/prometheus/", "timeoutSeconds": 3600}
    assert parse_settings(with_key("verify", behind_a_proxy)).verify == VerifySettings(
        "https://ops.example.com/prometheus/", 3600
    )
    assert parse_settings(with_key("verify", {"prometheusUrl": "http://[::1]:9090", "timeoutSeconds": 10})).verify


URL_HINT = (
    "the base URL of the Prometheus that scrapes these monitors, http:// or https:// without user, query or "
    "fragment, such as http://prometheus-operated.monitoring:9090"
)
VERIFY_BAD = [
    (
        {"prometheusUrl": "prometheus:9090"},
        f'calico-monitoring:verify.prometheusUrl: got "prometheus:9090"; expected {URL_HINT}',
    ),
    (
        {"prometheusUrl": "ftp://prometheus"},
        f'calico-monitoring:verify.prometheusUrl: got "ftp://prometheus"; expected {URL_HINT}',
    ),
    ({"prometheusUrl": "http://"}, f'calico-monitoring:verify.prometheusUrl: got "http://"; expected {URL_HINT}'),
    (
        {"prometheusUrl": "http://prometheus:9090/graph?g0.expr=up"},
        f'calico-monitoring:verify.prometheusUrl: got "http://prometheus:9090/graph?g0.expr=up"; expected {URL_HINT}',
    ),
    (
        {"prometheusUrl": "http://prometheus:9090/#/targets"},
        f'calico-monitoring:verify.prometheusUrl: got "http://prometheus:9090/#/targets"; expected {URL_HINT}',
    ),
    (
        {"prometheusUrl": "http://admin@prometheus:9090"},
        f'calico-monitoring:verify.prometheusUrl: got "http://admin@prometheus:9090"; expected {URL_HINT}',
    ),
    (
        {"prometheusUrl": "http://prometheus:99999"},
        f'calico-monitoring:verify.prometheusUrl: got "http://prometheus:99999"; expected {URL_HINT}',
    ),
    ({"prometheusUrl": 9090}, f"calico-monitoring:verify.prometheusUrl: got 9090; expected {URL_HINT}"),
    (
        {"prometheusUrl": "http://p:9090", "timeoutSeconds": 5},
        "calico-monitoring:verify.timeoutSeconds: got 5; expected a whole number from 10 to 3600",
    ),
    (
        {"prometheusUrl": "http://p:9090", "timeoutSeconds": 3601},
        "calico-monitoring:verify.timeoutSeconds: got 3601; expected a whole number from 10 to 3600",
    ),
    (
        {"prometheusUrl": "http://p:9090", "timeoutSeconds": "180"},
        'calico-monitoring:verify.timeoutSeconds: got "180"; expected a whole number from 10 to 3600',
    ),
    (
        {"prometheusUrl": "http://p:9090", "intervalSeconds": 2},
        "calico-monitoring:verify.intervalSeconds: unknown setting; accepted settings are bearerToken, caCert, "
        "caCertFile, prometheus, prometheusUrl, timeoutSeconds",
    ),
    (
        {"timeoutSeconds": 60},
        "calico-monitoring:verify.prometheusUrl: missing; it is required (setting it turns verification on)",
    ),
    (
        "http://p:9090",
        "calico-monitoring:verify: expected an object (set it with `pulumi config set --path "
        'calico-monitoring:verify.<field> <value>`); got "http://p:9090"',
    ),
]


@pytest.mark.parametrize(("value", "message"), VERIFY_BAD, ids=[str(v) for v, _ in VERIFY_BAD])
def test_bad_verify_values_are_named_with_what_is_accepted(value, message):
    with pytest.raises(ConfigError) as error:
        parse_settings(with_key("verify", value))
    assert str(error.value) == f"invalid stack configuration:\n  - {message}"


def test_every_verify_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as error:
        parse_settings(with_key("verify", {"prometheusUrl": "prometheus", "timeoutSeconds": 0}))
    assert str(error.value).splitlines()[1:] == [
        f'  - calico-monitoring:verify.prometheusUrl: got "prometheus"; expected {URL_HINT}',
        "  - calico-monitoring:verify.timeoutSeconds: got 0; expected a whole number from 10 to 3600",
    ]


def test_verify_is_refused_in_render_mode():
    config = {
        **with_key("verify", {"prometheusUrl": "http://prometheus-operated.monitoring:9090"}),
        "calico-monitoring:renderYamlTo": "out",
        "calico-monitoring:felix": {"scrape": "service"},
    }
    with pytest.raises(ConfigError) as error:
        parse_settings(config)
    assert str(error.value) == (
        "invalid stack configuration:\n"
        "  - calico-monitoring:verify: cannot be used with renderYamlTo: render mode talks to no cluster and applies "
        "nothing, so there are no targets to check; unset calico-monitoring:verify or calico-monitoring:renderYamlTo"
    )
    del config["calico-monitoring:verify"]
    assert parse_settings(config).verify is None


def problems(values, secret_keys=()):
    with pytest.raises(ConfigError) as error:
        parse_settings(values, secret_keys)
    return [line.removeprefix("  - ") for line in str(error.value).splitlines()[1:]]


def test_misspelt_keys_are_answered_with_the_closest_name():
    assert problems(with_key("felix", {"metricsPorts": 9091})) == [
        "calico-monitoring:felix.metricsPorts: unknown setting (did you mean metricsPort?); accepted settings are "
        "goMetrics, metricsHost, metricsPort, monitor, processMetrics, scrape"
    ]
    (top,) = problems(with_key("datastor", {"type": "kubernetes"}))
    assert top.startswith(
        "calico-monitoring:datastor: unknown setting (did you mean calico-monitoring:datastore?); accepted settings "
        "are calico-monitoring:alerts, "
    )
    # Nothing is suggested where nothing is close, and the names code uses are not config names.
    assert "did you mean" not in problems(with_key("felix", {"port": 9091}))[0]
    assert problems(with_key("podMonitor", {"keep_only_used_metrics": True}))[0].startswith(
        "calico-monitoring:podMonitor.keep_only_used_metrics: unknown setting (did you mean keepOnlyUsedMetrics?)"
    )


def test_every_alert_override_problem_is_reported_at_once_at_its_path():
    overrides = {
        "CalicoFelixDwn": {"for": "5m"},
        "CalicoFelixDown": {"severity": "page", "for": 300, "threshold": 2, "severty": "info"},
        "CalicoIPPoolNearlyExhausted": {"threshold": 90},
        "CalicoTyphaDown": {"enabled": "false"},
    }
    found = problems(with_key("alerts", {"overrides": overrides}))
    assert found[0].startswith(
        "calico-monitoring:alerts.overrides.CalicoFelixDwn: unknown alert (did you mean CalicoFelixDown?); "
        "known alerts are CalicoFelixBPFDirtyEndpoints, "
    )
    # In the order the stack lists them.
    assert found[1:] == [
        'calico-monitoring:alerts.overrides.CalicoFelixDown.severity: got "page"; expected one of critical, warning, '
        "info",
        "calico-monitoring:alerts.overrides.CalicoFelixDown.for: got 300; expected a Prometheus duration such as 30s, "
        "5m, 1h30m or 1d (units ms, s, m, h, d, w, y)",
        "calico-monitoring:alerts.overrides.CalicoFelixDown.threshold: CalicoFelixDown has no threshold; it accepts "
        "enabled, for, severity",
        "calico-monitoring:alerts.overrides.CalicoFelixDown.severty: unknown setting (did you mean severity?); "
        "accepted settings are enabled, for, severity",
        "calico-monitoring:alerts.overrides.CalicoIPPoolNearlyExhausted.threshold: got 90; expected a number greater "
        "than 0 and at most 1 (fraction of the pool's usable addresses in use)",
        'calico-monitoring:alerts.overrides.CalicoTyphaDown.enabled: got "false"; expected true or false',
    ]


def test_overrides_reach_the_rules_as_the_stack_gave_them():
    overrides = {"CalicoFelixDown": {"for": "5m"}, "CalicoIPPoolNearlyExhausted": {"threshold": 0.5, "enabled": True}}
    assert parse_settings(with_key("alerts", {"overrides": overrides})).alerts.overrides == overrides


def test_values_in_a_secret_key_are_never_echoed_even_in_overrides():
    config = with_key("alerts", {"overrides": {"CalicoFelixDown": {"for": "hunter2"}}})
    assert problems(config, {"calico-monitoring:alerts"}) == [
        "calico-monitoring:alerts.overrides.CalicoFelixDown.for: got [secret]; expected a Prometheus duration such as "
        "30s, 5m, 1h30m or 1d (units ms, s, m, h, d, w, y)"
    ]


def test_settings_built_in_code_use_the_same_defaults():
    assert PodMonitorSettings(keep_only_used_metrics=True).interval == parse_settings(KDD).pod_monitor.interval
    assert VerifySettings("http://p:9090").timeout_seconds == 180
