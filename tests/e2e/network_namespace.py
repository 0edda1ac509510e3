"""A loopback service made reachable at a private address, for the API server's service proxy to dial.

Endpoints refuse 127.0.0.0/8 addresses and the service proxy dials only a Pod's address, so a
Prometheus on a loopback port needs an address of another kind. ``relayed_into_a_network_namespace``
makes one, only inside what it creates: a network namespace, a veth pair whose host end takes the
first address of a free 10.213.x.y/30 (its kernel route is the route to the namespace) and whose other
end, in the namespace, the second; and tests/e2e/netns_relay.py listening there and connecting back to
the loopback port. On the way out it removes all of it and checks that nothing is left.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.cluster import Process, wait_until
from tests.e2e.real_calico_env import ip, network_namespaces

ROOT = Path(__file__).resolve().parents[2]
# Private /30s tried in turn; a /30 that already has an address or a route on this machine is skipped.
SUBNETS = tuple(ipaddress.ip_network("10.213.0.0/22").subnets(new_prefix=30))


def in_use(subnet: ipaddress.IPv4Network) -> bool:
    """Whether an address or a route of this machine lies inside ``subnet``."""
    addresses = ip("-o", "-4", "addr", "show", "to", str(subnet)).stdout.strip()
    routes = ip("-4", "route", "show", "root", str(subnet)).stdout.strip()
    return bool(addresses or routes)


@dataclass(frozen=True)
class RelayedService:
    """Where the loopback service answers from the API server's side: ``address``:``port``, in ``netns``."""

    netns: str
    host_link: str
    subnet: ipaddress.IPv4Network
    address: str
    port: int


def leftovers(relayed: RelayedService, relay: Process) -> list[str]:
    """What of ``relayed`` is still there; empty once it is all removed."""
    found = []
    if relay.popen.poll() is None:
        found.append(f"relay process {relay.popen.pid}")
    if relayed.netns in network_namespaces():
        found.append(f"network namespace {relayed.netns}")
    if Path("/run/netns", relayed.netns).exists():
        found.append(f"/run/netns/{relayed.netns}")
    if ip("link", "show", relayed.host_link, check=False).returncode == 0:
        found.append(f"link {relayed.host_link}")
    if ip("-o", "-4", "addr", "show", "to", str(relayed.subnet)).stdout.strip():
        found.append(f"an address in {relayed.subnet}")
    if ip("-4", "route", "show", "root", str(relayed.subnet)).stdout.strip():
        found.append(f"a route to {relayed.subnet}")
    return found


@contextlib.contextmanager
def relayed_into_a_network_namespace(loopback_port: int, folder: Path, port: int = 9090) -> Iterator[RelayedService]:
    """``127.0.0.1:loopback_port``, answering at an address inside a new network namespace on ``port``."""
    subnet = next((s for s in SUBNETS if not in_use(s)), None)
    if subnet is None:
        raise RuntimeError("every /30 of 10.213.0.0/22 has an address or a route on this machine")
    host_address, inner_address = (str(a) for a in subnet.hosts())
    suffix = f"{os.getpid() % 100000}"
    relayed = RelayedService(f"cm-verify-{suffix}", f"cmv{suffix}h", subnet, inner_address, port)
    inner_link = f"cmv{suffix}n"
    with contextlib.ExitStack() as undo:
        ip("netns", "add", relayed.netns)
        undo.callback(ip, "netns", "del", relayed.netns, check=False)
        ip("link", "add", relayed.host_link, "type", "veth", "peer", "name", inner_link, "netns", relayed.netns)
        undo.callback(ip, "link", "del", relayed.host_link, check=False)  # its peer goes with it
        ip("addr", "add", f"{host_address}/{subnet.prefixlen}", "dev", relayed.host_link)
        ip("link", "set", relayed.host_link, "up")
        ip("-n", relayed.netns, "addr", "add", f"{inner_address}/{subnet.prefixlen}", "dev", inner_link)
        ip("-n", relayed.netns, "link", "set", inner_link, "up")
        argv = [
            sys.executable, "-m", "tests.e2e.netns_relay", f"--netns=/run/netns/{relayed.netns}",
            f"--listen={inner_address}:{port}", f"--to=127.0.0.1:{loopback_port}",
        ]  # fmt: skip
        relay = Process(f"netns-relay-{suffix}", argv, folder, env={**os.environ, "PYTHONPATH": str(ROOT)})
        undo.callback(relay.stop)

        def answers() -> bool:
            with socket.create_connection((inner_address, port), timeout=2):
                return True

        wait_until(f"the relay at {inner_address}:{port}", answers, 30, relay)
        try:
            yield relayed
        finally:
            undo.close()
            left = leftovers(relayed, relay)
            assert not left, f"left behind after the scenario: {', '.join(left)}"
