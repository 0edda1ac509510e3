"""Addresses Kubernetes accepts for simulated nodes and pods, each inside a network namespace of ours.

The API server refuses 127.0.0.0/8 in EndpointSlices, so a Service whose pods have loopback addresses
has no endpoints to scrape. A cluster whose Calico pods run their real processes (tests/e2e/calico_processes.py)
therefore takes its node and pod addresses from a private /16 of its own address slot, 10.(200+slot).0.0/16:
node n at 10.(200+slot).0.n, its pod CIDR 10.(200+slot).(100+n).0/24. Every address lives in a network
namespace this module makes, joined by a veth pair to a bridge on the host that holds 10.(200+slot).255.254,
so the host (Prometheus, the tests) reaches each pod on its own address. Nothing of it routes anywhere else:
the bridge has no uplink and the namespaces no default route.
"""

from __future__ import annotations

import ipaddress
import itertools
import subprocess
from pathlib import Path

from tests.e2e.real_calico_env import ip, network_namespaces

# A /16 per address slot (tests/e2e/cluster.py MAX_SLOTS is 10).
FIRST_OCTET, SECOND_OCTET_BASE = 10, 200
# Node numbers that have an address here: pod CIDRs take the third octets 101 to 199.
MAX_NODES = 99


def slot_network(slot: int) -> ipaddress.IPv4Network:
    return ipaddress.ip_network(f"{FIRST_OCTET}.{SECOND_OCTET_BASE + slot}.0.0/16")


def check_node_number(number: int) -> None:
    if not 1 <= number <= MAX_NODES:
        raise ValueError(
            f"simulated node {number}: a cluster with real Calico processes has nodes 1 to {MAX_NODES} "
            "(larger ones keep loopback addresses and the stand-ins)"
        )


def node_address(number: int, slot: int) -> str:
    check_node_number(number)
    return f"{FIRST_OCTET}.{SECOND_OCTET_BASE + slot}.0.{number}"


def node_pod_cidr(number: int, slot: int) -> str:
    check_node_number(number)
    return f"{FIRST_OCTET}.{SECOND_OCTET_BASE + slot}.{100 + number}.0/24"


class PodNetwork:
    """The bridge of one address slot and the network namespaces on it (names start ``cm<slot>-``)."""

    def __init__(self, slot: int) -> None:
        self.slot = slot
        self.network = slot_network(slot)
        self.bridge = f"cmbr{slot}"
        self.prefix = f"cm{slot}-"
        self.gateway = str(self.network.broadcast_address - 1)
        self._links = itertools.count(1)
        self._host_links: dict[str, str] = {}  # namespace -> the host end of its veth pair

    def create(self) -> None:
        """The bridge, after removing whatever an earlier process of this slot left (the slot's lock says
        no other live process uses these names)."""
        self.remove()
        # A MAC of its own, as a host's NIC has: a bridge otherwise takes its lowest port's, and every change of it
        # flushes the host's neighbour entries, which would hide a stale one (add_namespace).
        ip("link", "add", self.bridge, "address", f"02:00:00:00:{self.slot:02x}:01", "type", "bridge")
        ip("addr", "add", f"{self.gateway}/{self.network.prefixlen}", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")

    def namespaces(self) -> list[str]:
        return sorted(name for name in network_namespaces() if name.startswith(self.prefix))

    def add_namespace(self, key: str, address: str) -> str:
        """A namespace ``cm<slot>-<key>`` with ``lo`` up and ``eth0`` at ``address`` on the bridge."""
        if ipaddress.ip_address(address) not in self.network:
            raise ValueError(f"{address} is not in {self.network}, the pod network of address slot {self.slot}")
        name = f"{self.prefix}{key}"
        host_link = f"cm{self.slot}v{next(self._links)}"
        ip("netns", "add", name)
        self._host_links[name] = host_link
        try:
            ip("-n", name, "link", "set", "lo", "up")
            ip("link", "add", host_link, "type", "veth", "peer", "name", "eth0", "netns", name)
            ip("link", "set", host_link, "master", self.bridge, "up")
            ip("-n", name, "addr", "add", f"{address}/{self.network.prefixlen}", "dev", "eth0")
            ip("-n", name, "link", "set", "eth0", "up")
        except subprocess.CalledProcessError:
            self.remove_namespace(name)
            raise
        # A pod that replaces another often gets its address (calico-kube-controllers' Recreate rollout does). The
        # host kept sending to the old namespace's MAC until its neighbour entry went stale, and Prometheus found
        # the new pod's target down for 30 s and more: forget the entry, so the next packet asks anew.
        ip("neigh", "flush", "to", address, "dev", self.bridge, check=False)
        return name

    def remove_namespace(self, name: str) -> None:
        # The kernel removes a namespace's veth pair only when it frees the namespace, some time later:
        # deleting the host end removes the pair at once.
        host_link = self._host_links.pop(name, None)
        if host_link:
            ip("link", "del", host_link, check=False)
        ip("netns", "del", name, check=False)

    def host_links(self) -> list[str]:
        lines = ip("-o", "link", "show").stdout.splitlines()
        names = (line.split(":")[1].strip().split("@")[0] for line in lines if ":" in line)
        return sorted(n for n in names if n.startswith(f"cm{self.slot}v"))

    def remove(self) -> None:
        for name in self.namespaces():
            self.remove_namespace(name)
        for link in self.host_links():  # of an earlier process of this slot
            ip("link", "del", link, check=False)
        ip("link", "del", self.bridge, check=False)

    def leftovers(self) -> list[str]:
        found = [f"network namespace {name}" for name in self.namespaces()]
        found += [f"/run/netns/{p.name}" for p in sorted(Path("/run/netns").glob(f"{self.prefix}*"))]
        if ip("link", "show", self.bridge, check=False).returncode == 0:
            found.append(f"bridge {self.bridge}")
        found += [f"link {link}" for link in self.host_links()]
        if ip("-4", "route", "show", "root", str(self.network)).stdout.strip():
            found.append(f"a route to {self.network}")
        return found
