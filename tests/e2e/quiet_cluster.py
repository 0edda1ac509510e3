"""The quiet cluster ``make fixtures`` captures the real Calico processes in (tests/e2e/capture_expositions.py).

Three Nodes; one IPv4 IPPool (192.168.0.0/16, /26 blocks, no encapsulation); in namespace ``shop`` five pods
per node, with the annotations and the IPAM blocks Calico's CNI plugin and IPAM would have written for them
(one block affine to each node, holding its pods' addresses: kube-controllers' IPAM metrics read blocks);
two Kubernetes NetworkPolicies and one Calico GlobalNetworkPolicy; FelixConfiguration ``default`` with
metrics on and ``node.node-002`` with ``nftablesMode: Enabled``; KubeControllersConfiguration ``default``
with ``prometheusMetricsPort: 9094``. Everything is created before any Calico process starts, so none of
them restarts for a configuration change.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from pathlib import Path

import yaml

from tests.e2e.cluster import Binaries, calico_manifests, simulated_node
from tests.e2e.real_calico_env import KUBE_CONTROLLERS_METRICS_PORT

NODES = ("node-001", "node-002", "node-003")
NODE_ADDRESSES = {node: f"10.0.0.{n}" for n, node in enumerate(NODES, start=1)}
NFTABLES_NODE = "node-002"
APPS = ("frontend", "checkout", "catalog", "cart", "payments")
POOL = ipaddress.ip_network("192.168.0.0/16")
BLOCK_PREFIX = 26
NAMESPACE = "shop"


def calicoctl(binaries: Binaries, kubeconfig: Path, *args: str, document: dict | None = None) -> str:
    env = {"PATH": "/usr/bin:/bin", "DATASTORE_TYPE": "kubernetes", "KUBECONFIG": str(kubeconfig)}
    document_text = json.dumps(document) if document else None
    argv = [str(binaries.calicoctl), *args]
    result = subprocess.run(argv, input=document_text, capture_output=True, text=True, env=env, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"calicoctl {' '.join(args)}: {result.stdout}{result.stderr}")
    return result.stdout


def kubectl(binaries: Binaries, kubeconfig: Path, *args: str, documents: list[dict] | None = None) -> str:
    documents_text = yaml.safe_dump_all(documents) if documents else None
    argv = [str(binaries.kubectl), f"--kubeconfig={kubeconfig}", *args]
    result = subprocess.run(argv, input=documents_text, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr}")
    return result.stdout


def block_of(node_index: int) -> ipaddress.IPv4Network:
    return list(POOL.subnets(new_prefix=BLOCK_PREFIX))[node_index + 4]


def container_id(node_index: int, pod_index: int) -> str:
    return f"{node_index:02d}{pod_index:02d}" * 16


def pods() -> list[dict]:
    out = []
    for n, node in enumerate(NODES):
        for p, app in enumerate(APPS):
            address = f"{block_of(n).network_address + p}/32"
            metadata = {
                "name": f"{app}-{node}",
                "namespace": NAMESPACE,
                "labels": {"app": app},
                # What Calico's CNI plugin writes on a pod once it has its address.
                "annotations": {
                    "cni.projectcalico.org/podIP": address,
                    "cni.projectcalico.org/podIPs": address,
                    "cni.projectcalico.org/containerID": container_id(n, p),
                },
            }
            spec = {"nodeName": node, "containers": [{"name": app, "image": "registry.k8s.io/pause:3.10"}]}
            out.append({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
    return out


def ipam_blocks() -> list[dict]:
    """Per node, the /26 block affine to it, holding its pods' addresses, as Calico's IPAM writes it."""
    out = []
    size = 2 ** (32 - BLOCK_PREFIX)
    for n, node in enumerate(NODES):
        block = block_of(n)
        secondary = {"namespace": NAMESPACE, "node": node, "timestamp": "2026-01-01 00:00:00.000000000 +0000 UTC"}
        attributes = [
            {"handle_id": f"k8s-pod-network.{container_id(n, p)}", "secondary": {**secondary, "pod": f"{app}-{node}"}}
            for p, app in enumerate(APPS)
        ]
        spec = {
            "cidr": str(block),
            "affinity": f"host:{node}",
            "deleted": False,
            "strictAffinity": False,
            "allocations": [i if i < len(APPS) else None for i in range(size)],
            "unallocated": list(range(len(APPS), size)),
            "attributes": attributes,
            "sequenceNumber": len(APPS),
            "sequenceNumberForAllocation": {str(i): i for i in range(len(APPS))},
        }
        name = str(block).replace(".", "-").replace("/", "-")
        metadata = {"name": name}
        out.append({"apiVersion": "crd.projectcalico.org/v1", "kind": "IPAMBlock", "metadata": metadata, "spec": spec})
    return out


def calico_resources() -> list[dict]:
    def resource(kind: str, name: str, spec: dict) -> dict:
        return {"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": {"name": name}, "spec": spec}

    pool = {"cidr": str(POOL), "blockSize": BLOCK_PREFIX, "ipipMode": "Never", "vxlanMode": "Never",
            "natOutgoing": True, "nodeSelector": "all()"}  # fmt: skip
    kube_controllers = {
        "prometheusMetricsPort": KUBE_CONTROLLERS_METRICS_PORT,
        "healthChecks": "Enabled",
        "controllers": {"node": {"reconcilerPeriod": "5m0s", "syncLabels": "Enabled"}},
    }
    allow_dns = {"tier": "default", "selector": "all()", "order": 1000, "types": ["Egress"],
                 "egress": [{"action": "Allow", "protocol": "UDP", "destination": {"ports": [53]}}]}  # fmt: skip
    return [
        resource("IPPool", "default-ipv4-ippool", pool),
        resource("FelixConfiguration", "default", {"prometheusMetricsEnabled": True}),
        resource("FelixConfiguration", f"node.{NFTABLES_NODE}", {"nftablesMode": "Enabled"}),
        resource("KubeControllersConfiguration", "default", kube_controllers),
        resource("GlobalNetworkPolicy", "default.allow-dns", allow_dns),
    ]


def network_policies() -> list[dict]:
    def policy(name: str, spec: dict) -> dict:
        metadata = {"name": name, "namespace": NAMESPACE}
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata, "spec": spec}

    frontend = {"matchLabels": {"app": "frontend"}}
    backends = {"matchExpressions": [{"key": "app", "operator": "In", "values": list(APPS[1:])}]}
    web = [{"ports": [{"port": 8080, "protocol": "TCP"}]}]
    upstream = [{"from": [{"podSelector": frontend}]}]
    return [
        policy("frontend-ingress", {"podSelector": frontend, "policyTypes": ["Ingress"], "ingress": web}),
        policy("backend-from-frontend", {"podSelector": backends, "policyTypes": ["Ingress"], "ingress": upstream}),
    ]


def seed_cluster(binaries: Binaries, kubeconfig: Path) -> None:
    """Calico's CRDs (created, as Calico's docs do) and everything above, in a fresh cluster."""
    crds = [d for d in yaml.safe_load_all((calico_manifests() / "crds.yaml").read_text()) if d]
    kubectl(binaries, kubeconfig, "create", "-f", "-", documents=crds)
    names = [f"crd/{crd['metadata']['name']}" for crd in crds]
    kubectl(binaries, kubeconfig, "wait", "--for=condition=Established", "--timeout=60s", *names)
    nodes = [simulated_node(number) for number in range(1, len(NODES) + 1)]
    for node in nodes:
        # The address of the node's own eth0 (real_calico_env.add_host_interface); no pod CIDR: Calico's
        # IPAM hands out the pods' addresses.
        node["status"]["addresses"][0]["address"] = NODE_ADDRESSES[node["metadata"]["name"]]
        node["spec"] = {}
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    kubectl(binaries, kubeconfig, "create", "-f", "-", documents=[*nodes, namespace])
    for document in calico_resources():
        calicoctl(binaries, kubeconfig, "create", "-f", "-", document=document)
    kubectl(binaries, kubeconfig, "create", "-f", "-", documents=[*ipam_blocks(), *pods(), *network_policies()])
