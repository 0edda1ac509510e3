"""builders/restarts.py: how many pods a workload patch restarts and at what pace, as the DaemonSet and
Deployment controllers resolve maxUnavailable and maxSurge, and the message a preview shows."""

import pytest

from builders.plan import plan_stack
from builders.restarts import Pace, already_applied, daemon_set_pace, deployment_pace, restart_warning, scaled
from configuration import parse_settings

BASE = {"kubernetes:context": "c", "calico-monitoring:datastore": {"type": "kubernetes"}}
SERVICE_SCRAPE = "`pulumi config set --path calico-monitoring:felix.scrape service`"


def plan(**config):
    return plan_stack(parse_settings({**BASE, **{f"calico-monitoring:{k}": v for k, v in config.items()}}))


def rolling_daemon_set(**rolling_update):
    return {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": rolling_update}}


def scheduled(pods):
    return {"desiredNumberScheduled": pods}


@pytest.mark.parametrize(
    ("value", "total", "round_up", "expected"),
    [
        (1, 2000, True, 1),
        ("10%", 2000, True, 200),
        ("25%", 3, True, 1),  # 0.75 pods, rounded up
        ("25%", 3, False, 0),  # a Deployment's maxUnavailable rounds down
        ("1%", 3, True, 1),
        ("100%", 7, True, 7),
        ("0%", 5, True, 0),
        (None, 5, True, 0),
    ],
)
def test_an_int_or_percent_is_scaled_like_kubernetes_does(value, total, round_up, expected):
    assert scaled(value, total, round_up=round_up) == expected


@pytest.mark.parametrize(
    ("rolling_update", "pods", "at_once", "rounds"),
    [
        ({"maxUnavailable": 1}, 2000, 1, 2000),
        ({"maxUnavailable": "10%"}, 2000, 200, 10),
        ({"maxUnavailable": "25%"}, 3, 1, 3),
        ({"maxUnavailable": "30%"}, 10, 3, 4),
        ({"maxUnavailable": "10%"}, 25, 3, 9),  # 2.5 rounded up
        ({"maxSurge": "10%", "maxUnavailable": 0}, 25, 3, 9),  # so is a surge
        ({}, 5, 1, 5),  # the API server's default: maxUnavailable 1
        ({"maxUnavailable": 10}, 3, 3, 1),  # never more at once than there are pods
        # With a surge, maxSurge sets the pace: each new pod starts beside an old one.
        ({"maxSurge": "10%", "maxUnavailable": 0}, 2000, 200, 10),
        ({"maxSurge": 1, "maxUnavailable": 0}, 4, 1, 4),
        # Both resolve to 0: the controller still takes one at a time.
        ({"maxSurge": 0, "maxUnavailable": "0%"}, 4, 1, 4),
    ],
)
def test_a_rolling_daemon_set_restarts_its_pods_in_rounds(rolling_update, pods, at_once, rounds):
    pace = daemon_set_pace(rolling_daemon_set(**rolling_update), scheduled(pods))
    assert (pace.strategy, pace.pods, pace.at_once, pace.rounds) == ("RollingUpdate", pods, at_once, rounds)


def test_a_daemon_set_without_an_update_strategy_rolls_one_pod_at_a_time():
    assert daemon_set_pace({}, scheduled(3)) == Pace("RollingUpdate", 3, 1, "maxUnavailable 1")


def test_an_on_delete_daemon_set_restarts_nothing_by_itself():
    pace = daemon_set_pace({"updateStrategy": {"type": "OnDelete"}}, scheduled(5))
    assert (pace.at_once, pace.rounds) == (0, 0)


def test_the_sdk_s_snake_case_keys_read_alike():
    spec = {"update_strategy": {"type": "RollingUpdate", "rolling_update": {"max_unavailable": "10%"}}}
    assert daemon_set_pace(spec, {"desired_number_scheduled": 2000}).at_once == 200


@pytest.mark.parametrize(
    ("spec", "pods", "at_once", "rounds"),
    [
        ({"replicas": 1, "strategy": {"type": "Recreate"}}, 1, 1, 1),  # Calico's calico-kube-controllers
        # Calico's calico-typha: maxSurge 100% of 1 is 1 new pod, maxUnavailable 1 old one.
        ({"replicas": 1, "strategy": {"rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 1}}}, 1, 1, 1),
        ({"replicas": 3}, 3, 1, 3),  # 25% surge rounds up to 1, 25% unavailable down to 0
        ({"replicas": 8}, 8, 4, 2),  # 2 surge + 2 unavailable
        ({}, 1, 1, 1),  # replicas unset: 1
        ({"replicas": 4, "strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "10%"}}}, 4, 1, 4),
    ],
)
def test_a_deployment_restarts_surge_plus_unavailable_pods_at_a_time(spec, pods, at_once, rounds):
    pace = deployment_pace(spec)
    assert (pace.pods, pace.at_once, pace.rounds) == (pods, at_once, rounds)


CALICO_NODE_WITHOUT_PORT = {
    **rolling_daemon_set(maxUnavailable=1),
    "template": {"spec": {"containers": [{"name": "calico-node", "image": "calico/node", "ports": []}]}},
}


def felix_patch():
    return plan().component("felix").patch


def test_a_patch_is_applied_when_the_live_container_has_every_entry_it_sets():
    patch = felix_patch()
    assert not already_applied(patch, CALICO_NODE_WITHOUT_PORT)
    port = {"containerPort": 9091, "name": "http-metrics", "protocol": "TCP"}
    applied = {"template": {"spec": {"containers": [{"name": "calico-node", "ports": [{"hostPort": 9091, **port}]}]}}}
    assert already_applied(patch, applied)
    # Read back through the SDK, in snake_case.
    sdk = {"template": {"spec": {"containers": [{"name": "calico-node", "ports": [{"container_port": 9091,
           "name": "http-metrics", "protocol": "TCP"}]}]}}}  # fmt: skip
    assert already_applied(patch, sdk)
    renamed = {"template": {"spec": {"containers": [{"name": "calico-node", "ports": [{**port, "name": "metrics"}]}]}}}
    assert not already_applied(patch, renamed)  # a new name is a template change too
    elsewhere = {"template": {"spec": {"containers": [{"name": "flannel", "ports": [port]}, {"name": "calico-node"}]}}}
    assert not already_applied(patch, elsewhere)


def test_typha_s_patch_is_applied_only_with_every_variable_at_its_value():
    patch = plan(typha={"enabled": True}, felix={"scrape": "service"}).component("typha").patch
    env = [{"name": "TYPHA_PROMETHEUSMETRICSENABLED", "value": "true"}, {"name": "TYPHA_LOGSEVERITYSCREEN"}]
    live = {"template": {"spec": {"containers": [{"name": "calico-typha", "env": env}]}}}
    assert not already_applied(patch, live)
    env.append({"name": "TYPHA_PROMETHEUSMETRICSPORT", "value": "9093"})
    assert already_applied(patch, live)


def test_the_felix_message_at_5_nodes():
    assert restart_warning("felix", felix_patch(), CALICO_NODE_WITHOUT_PORT, scheduled(5)) == (
        "`pulumi up` adds Felix's metrics port to DaemonSet kube-system/calico-node: its 5 pods restart, "
        "1 at a time (maxUnavailable 1), in 5 rounds that each wait for the new pod to be ready; "
        "`pulumi destroy` removes it and restarts them again. To leave DaemonSet kube-system/calico-node alone, "
        f"scrape through a Service instead: {SERVICE_SCRAPE}."
    )


def test_the_felix_message_at_2000_nodes():
    message = restart_warning("felix", felix_patch(), CALICO_NODE_WITHOUT_PORT, scheduled(2000))
    assert "its 2,000 pods restart, 1 at a time (maxUnavailable 1), in 2,000 rounds that each wait" in message
    by_tenths = {**CALICO_NODE_WITHOUT_PORT, **rolling_daemon_set(maxUnavailable="10%")}
    message = restart_warning("felix", felix_patch(), by_tenths, scheduled(2000))
    assert (
        "its 2,000 pods restart, 200 at a time (maxUnavailable 10%), in 10 rounds that each wait for the new pods"
        in (message)
    )
    surging = {**CALICO_NODE_WITHOUT_PORT, **rolling_daemon_set(maxSurge="10%", maxUnavailable=0)}
    message = restart_warning("felix", felix_patch(), surging, scheduled(2000))
    assert "200 at a time (maxSurge 10%: each new pod starts before its old one stops), in 10 rounds" in message


def test_the_felix_message_of_an_on_delete_daemon_set():
    on_delete = {**CALICO_NODE_WITHOUT_PORT, "updateStrategy": {"type": "OnDelete"}}
    assert restart_warning("felix", felix_patch(), on_delete, scheduled(3)) == (
        "`pulumi up` adds Felix's metrics port to DaemonSet kube-system/calico-node: none of its 3 pods restarts "
        "now (updateStrategy OnDelete): each gets the change only when it is deleted, and is not scraped until then; "
        "`pulumi destroy` removes it the same way. To leave DaemonSet kube-system/calico-node alone, scrape through "
        f"a Service instead: {SERVICE_SCRAPE}."
    )


def test_the_typha_and_kube_controllers_messages():
    stack = plan(typha={"enabled": True})
    typha = {"replicas": 3, "strategy": {"rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 1}}}
    assert restart_warning("typha", stack.component("typha").patch, typha) == (
        "`pulumi up` adds Typha's metrics settings to Deployment kube-system/calico-typha: its 3 pods restart "
        "together (maxSurge 100%, maxUnavailable 1: each new pod starts before its old one stops); "
        "`pulumi destroy` removes them and restarts them again. "
        "Typha reads its metrics settings only when it starts, so no scrape mode avoids this."
    )
    controllers = {"replicas": 1, "strategy": {"type": "Recreate"}}
    assert restart_warning("kube-controllers", stack.component("kube-controllers").patch, controllers) == (
        "`pulumi up` adds calico-kube-controllers' metrics port to Deployment kube-system/calico-kube-controllers: "
        "its pod stops, then a new one starts (strategy Recreate); `pulumi destroy` removes it and restarts it "
        "again. To leave Deployment kube-system/calico-kube-controllers alone, scrape through a Service instead: "
        f"{SERVICE_SCRAPE}."
    )


def test_the_operator_message_names_the_installation_and_the_deployment_it_rolls():
    patch = plan(install="operator").component("typha").patch
    assert restart_warning("typha", patch, {"variant": "Calico"}) == (
        "`pulumi up` sets typhaMetricsPort 9093 on Installation default: the Tigera operator then turns Typha's "
        "metrics on in Deployment calico-system/calico-typha, which restarts its pods at the pace the operator sets; "
        "`pulumi destroy` removes it and the operator restarts them again. Typha reads its metrics settings only "
        "when it starts, so no scrape mode avoids this."
    )
    assert restart_warning("typha", patch, {"variant": "Calico", "typhaMetricsPort": 9093}) is None
    assert restart_warning("typha", patch, {"variant": "Calico", "typhaMetricsPort": 9000}) is not None


def test_nothing_is_said_when_nothing_will_restart():
    patch = felix_patch()
    applied = {
        **CALICO_NODE_WITHOUT_PORT,
        "template": {"spec": {"containers": [{"name": "calico-node", "ports": patch.manifest["spec"]["template"][
            "spec"]["containers"][0]["ports"]}]}},
    }  # fmt: skip
    assert restart_warning("felix", patch, applied, scheduled(5)) is None  # a re-run
    assert restart_warning("felix", patch, None, None) is None  # nothing read (render mode)
    assert restart_warning("felix", patch, CALICO_NODE_WITHOUT_PORT, scheduled(0)) is None  # no pods
    assert restart_warning("felix", patch, CALICO_NODE_WITHOUT_PORT, None) is None  # no status yet
