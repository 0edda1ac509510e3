"""ScrapeVerification: after `pulumi up` created the monitors, wait until Prometheus scrapes their targets."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from builders.plan import StackPlan
from builders.sdk_values import camel_keys, plain
from configuration import VerifySettings
from verification.prometheus_targets import expected_jobs, wait_for_targets


def desired_number_scheduled(status: Any) -> int:
    return camel_keys(plain(status) or {}).get("desiredNumberScheduled", 0)


def replicas(spec: Any) -> int:
    value = (plain(spec) or {}).get("replicas")
    return 1 if value is None else value  # the API server's default


@dataclass(frozen=True)
class ScrapeVerificationArgs:
    verify: VerifySettings
    plan: StackPlan
    monitors: Sequence[pulumi.CustomResource]
    # calico-node pods the Felix job must find; read from the DaemonSet when not given.
    felix_scheduled: pulumi.Input[int] | None = None


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
        super().__init__("calico-monitoring:index:ScrapeVerification", name, None, opts)
        plan, verify = args.plan, args.verify
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
            verification = await asyncio.to_thread(
                wait_for_targets, verify.prometheus_url, jobs, verify.timeout_seconds
            )
            if not verification.ok:
                raise pulumi.RunError(verification.message())
            return verification.summary

        ready = pulumi.Output.all(pulumi.Output.all(*[o.id for o in objects]), pulumi.Output.all(**expected))
        self.targets = ready.apply(lambda parts: check(parts[1]))
        self.register_outputs({"targets": self.targets})
