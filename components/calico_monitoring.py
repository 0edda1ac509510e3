"""CalicoMonitoring: everything one cluster's stack creates, in order."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.calico_node_port import CalicoNodeMetricsPort, CalicoNodeMetricsPortArgs
from components.felix_metrics import FelixMetrics, FelixMetricsArgs
from components.pod_monitor import FelixPodMonitor, FelixPodMonitorArgs
from components.settings import KubernetesProviderSettings, Settings

# Every provider flag is set explicitly: the SDK otherwise fills unset ones from the
# KUBECONFIG and PULUMI_K8S_* variables of whoever runs the program, so two machines
# would preview different provider inputs. These are the provider's own defaults.
PROVIDER_FLAGS = {
    "enable_server_side_apply": True,  # the DaemonSet patch needs server-side apply
    "enable_patch_force": False,
    "enable_config_map_mutable": False,
    "enable_secret_mutable": False,
    "delete_unreachable": False,
    "skip_update_unreachable": False,
    "suppress_deprecation_warnings": False,
    "suppress_helm_hook_warnings": False,
    "upsert_existing_objects": False,
}


def kubernetes_provider_args(settings: KubernetesProviderSettings) -> dict:
    # An empty kubeconfig means the provider's default lookup (KUBECONFIG, then ~/.kube/config),
    # resolved when it runs rather than baked into the inputs.
    args: dict = {**PROVIDER_FLAGS, "kubeconfig": ""}
    if settings.kubeconfig_path is not None:
        args["kubeconfig"] = settings.kubeconfig_path
    elif settings.kubeconfig_content is not None:
        args["kubeconfig"] = pulumi.Output.secret(settings.kubeconfig_content.reveal())
    if settings.context is not None:
        args["context"] = settings.context
    return args


class CalicoMonitoring(pulumi.ComponentResource):
    """Felix metrics on, then the port declared on calico-node, then the PodMonitor."""

    def __init__(self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("calico-monitoring:index:CalicoMonitoring", name, None, opts)
        self.provider = k8s.Provider(
            f"{name}-kubernetes",
            **kubernetes_provider_args(settings.kubernetes),
            opts=pulumi.ResourceOptions(parent=self),
        )
        kubernetes = pulumi.ResourceOptions(parent=self, providers=[self.provider])

        self.felix = FelixMetrics(
            f"{name}-felix",
            FelixMetricsArgs(datastore=settings.datastore, calicoctl=settings.calicoctl, felix=settings.felix),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.metrics_port = CalicoNodeMetricsPort(
            f"{name}-calico-node-port",
            CalicoNodeMetricsPortArgs(calico_node=settings.calico_node, metrics_port=settings.felix.metrics_port),
            opts=pulumi.ResourceOptions.merge(kubernetes, pulumi.ResourceOptions(depends_on=[self.felix])),
        )
        self.pod_monitor = FelixPodMonitor(
            f"{name}-felix-podmonitor",
            FelixPodMonitorArgs(pod_monitor=settings.pod_monitor, calico_node=settings.calico_node),
            opts=pulumi.ResourceOptions.merge(kubernetes, pulumi.ResourceOptions(depends_on=[self.metrics_port])),
        )
        self.register_outputs(
            {
                "felixMetrics": self.felix.applied,
                "scrapeJob": self.pod_monitor.job,
            }
        )
