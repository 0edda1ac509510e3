"""FelixMetrics: turns on Felix's Prometheus metrics with calicoctl."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
from pulumi_command import local

from components.calicoctl_script import calicoctl_patch_scripts, datastore_environment, felix_patch
from components.settings import CalicoctlSettings, EtcdDatastore, FelixSettings, KubernetesDatastore, Secret


@dataclass(frozen=True)
class FelixMetricsArgs:
    datastore: KubernetesDatastore | EtcdDatastore
    calicoctl: CalicoctlSettings
    felix: FelixSettings


def as_pulumi_inputs(environment: dict[str, str | Secret]) -> dict[str, pulumi.Input[str]]:
    return {
        name: pulumi.Output.secret(value.reveal()) if isinstance(value, Secret) else value
        for name, value in environment.items()
    }


class FelixMetrics(pulumi.ComponentResource):
    """`calicoctl patch felixConfiguration default` with metrics on; destroy puts the old values back."""

    applied: pulumi.Output[dict]

    def __init__(self, name: str, args: FelixMetricsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("calico-monitoring:index:FelixMetrics", name, None, opts)
        scripts = calicoctl_patch_scripts("felixConfiguration", "default", felix_patch(args.felix), args.calicoctl)
        self.command = local.Command(
            f"{name}-calicoctl-patch",
            create=scripts.create,
            delete=scripts.delete,
            environment=as_pulumi_inputs(datastore_environment(args.datastore)),
            opts=pulumi.ResourceOptions(
                parent=self,
                # Any change re-records and re-patches: the old resource restores first, then
                # the new one patches, so a replacement never undoes the new settings.
                replace_on_changes=["*"],
                delete_before_replace=True,
            ),
        )
        self.applied = self.command.stdout.apply(lambda out: json.loads(out)["applied"] if out else None)
        self.register_outputs({"applied": self.applied})
