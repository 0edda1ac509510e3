"""ScrapeVerification: after `pulumi up` created the monitors, wait until Prometheus scrapes their targets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from kubernetes.config.config_exception import ConfigException

from builders.plan import StackPlan
from builders.sdk_values import camel_keys, plain
from configuration import KubernetesProviderSettings, VerifySettings
from patch_release.connection import connection_props, kubernetes_api
from verification.prometheus_api import PrometheusAtUrl, PrometheusThroughServiceProxy
from verification.prometheus_targets import ExpectedJob, Verification, expected_jobs, wait_for_targets


def desired_number_scheduled(status: Any) -> int:
    return camel_keys(plain(status) or {}).get("desiredNumberScheduled", 0)


def replicas(spec: Any) -> int:
    value = (plain(spec) or {}).get("replicas")
    return 1 if value is None else value  # the API server's default


def read_scrape_targets(
    verify: VerifySettings, kubernetes: KubernetesProviderSettings | None, jobs: Sequence[ExpectedJob]
) -> Verification:
    """Polls Prometheus as ``verify`` says to reach it: at its URL, or through the API server's service proxy
    with the stack's Kubernetes connection ``kubernetes``. Blocks for up to ``verify.timeout_seconds``."""
    service = verify.prometheus
    if service is None:
        try:
            prometheus = PrometheusAtUrl(
                verify.prometheus_url,
                bearer_token=verify.bearer_token,
                ca_cert_file=verify.ca_cert_file,
                ca_cert=verify.ca_cert,
            )
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            raise pulumi.RunError(
                f"calico-monitoring:verify.caCertFile: cannot read {verify.ca_cert_file}: {error}"
            ) from None
        return wait_for_targets(prometheus.where, jobs, verify.timeout_seconds, fetch=prometheus.fetch)
    assert kubernetes is not None  # ScrapeVerification refuses the service proxy without the stack's connection
    content = kubernetes.kubeconfig_content
    connection = connection_props(
        kubernetes.kubeconfig_path, content.reveal() if content is not None else None, kubernetes.context
    )
    with contextlib.ExitStack() as opened:
        try:
            api = opened.enter_context(kubernetes_api(connection))
        except (ConfigException, OSError) as error:
            raise pulumi.RunError(
                f"calico-monitoring:verify.prometheus: no Kubernetes client from the stack's connection: {error}"
            ) from None
        prometheus = PrometheusThroughServiceProxy(
            api, service.namespace, service.service, service.port, service.scheme
        )
        return wait_for_targets(prometheus.where, jobs, verify.timeout_seconds, fetch=prometheus.fetch)


@dataclass(frozen=True)
class ScrapeVerificationArgs:
    verify: VerifySettings
    plan: StackPlan
    monitors: Sequence[pulumi.CustomResource]
    # calico-node pods the Felix job must find; read from the DaemonSet when not given.
    felix_scheduled: pulumi.Input[int] | None = None
    # The stack's Kubernetes connection, which verify.prometheus reads Prometheus with; None for a
    # provider handed to the component, whose connection the component cannot see.
    kubernetes: KubernetesProviderSettings | None = None


class ScrapeVerification(pulumi.ComponentResource):
    """Reads how many pods each monitor should find, then, during `pulumi up` only, polls
    Prometheus until each job has that many targets up; fails the `up` naming every job
    that has not, with its likely cause."""

    targets: pulumi.Output[Any]

    def __init__(
        self,
        name: str,
        args: ScrapeVerificationArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        if args.verify.prometheus is not None and args.kubernetes is None:
            raise pulumi.RunError(
                "calico-monitoring:verify.prometheus: reads Prometheus through the API server with the component's "
                "own Kubernetes connection, which a provider handed in through opts does not show; set "
                "verify.prometheusUrl instead (with bearerToken and caCertFile if Prometheus needs them)"
            )
        super().__init__("calico-monitoring:index:ScrapeVerification", name, None, opts)
        plan, verify, kubernetes = args.plan, args.verify, args.kubernetes
        felix_scheduled = args.felix_scheduled
        objects = list(args.monitors)
        after = pulumi.ResourceOptions(parent=self, depends_on=objects)
        expected: dict[str, pulumi.Input[int]] = {}
        for component in plan.components:
            if component.scrape is None:  # felix.monitor.enabled false: no targets of ours
                continue
            workload = component.targets
            if component.component == "felix":
                if felix_scheduled is None:
                    daemon_set = k8s.apps.v1.DaemonSet.get(
                        f"{name}-calico-node", f"{workload.namespace}/{workload.name}", opts=after
                    )
                    felix_scheduled = daemon_set.status.apply(desired_number_scheduled)
                expected["felix"] = felix_scheduled
            else:
                deployment = k8s.apps.v1.Deployment.get(
                    f"{name}-{component.component}", f"{workload.namespace}/{workload.name}", opts=after
                )
                expected[component.component] = deployment.spec.apply(replicas)

        async def check(counts: dict[str, int]) -> Any:
            if pulumi.runtime.is_dry_run():
                return pulumi.UNKNOWN  # known after `up`; a preview sends no request
            jobs = expected_jobs(plan, counts)
            # The poll blocks for up to timeoutSeconds: in a thread, the program's event loop goes on meanwhile.
            verification = await asyncio.to_thread(read_scrape_targets, verify, kubernetes, jobs)
            if not verification.ok:
                raise pulumi.RunError(verification.message())
            return verification.summary

        ready = pulumi.Output.all(pulumi.Output.all(*[o.id for o in objects]), pulumi.Output.all(**expected))
        self.targets = ready.apply(lambda parts: check(parts[1]))
        self.register_outputs({"targets": self.targets})
