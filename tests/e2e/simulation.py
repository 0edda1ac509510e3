"""Simulated nodes and what happens on them: rollouts counted from pod UIDs, rollouts waited for.

``PodUidWatch`` follows a watch on the API server (the way a controller does, so no pod
that lived only briefly is missed) and records every pod UID it sees per node; the
rollouts a run caused on a node are the new UIDs that appeared there.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from typing import Any

from tests.e2e.calico_standins import ApiClient


class PodUidWatch:
    """Every pod UID seen per node for one label selector, from a list and then a watch."""

    def __init__(self, api: ApiClient, namespace: str, selector: str) -> None:
        self.api = api
        self.path = f"/api/v1/namespaces/{namespace}/pods"
        self.selector = urllib.parse.quote(selector)
        self.uids: dict[str, set[str]] = defaultdict(set)
        self.baseline: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        listing = api.get(f"{self.path}?labelSelector={self.selector}") or {}
        for pod in listing.get("items", []):
            self._record(pod)
        self.mark()
        self._response = urllib.request.urlopen(
            f"{api.server}{self.path}?labelSelector={self.selector}&watch=true&allowWatchBookmarks=false"
            f"&timeoutSeconds=7200&resourceVersion={listing['metadata']['resourceVersion']}",
            context=api.tls,
            timeout=7200,
        )
        self._thread = threading.Thread(target=self._follow, name="pod-uid-watch", daemon=True)
        self._thread.start()

    def _record(self, pod: dict[str, Any]) -> None:
        node = pod["spec"].get("nodeName")
        if node:
            with self._lock:
                self.uids[node].add(pod["metadata"]["uid"])

    def _follow(self) -> None:
        try:
            for line in self._response:
                event = json.loads(line)
                if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                    self._record(event["object"])
        except (OSError, ValueError):  # closed by stop(), or the API server went away
            return

    def mark(self) -> None:
        """From now on, count rollouts against what each node has seen so far."""
        with self._lock:
            self.baseline = {node: set(uids) for node, uids in self.uids.items()}

    def rollouts(self) -> dict[str, int]:
        """New pods per node since the last mark: 1 means the node's pod was replaced once."""
        with self._lock:
            return {node: len(uids - self.baseline.get(node, set())) for node, uids in sorted(self.uids.items())}

    def stop(self) -> None:
        # Closing the response while the watch thread reads it would wait for that read; shutting the
        # socket down ends the read at once.
        with contextlib.suppress(OSError, AttributeError):
            self._response.fp.raw._sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        self._response.close()


def daemonset_settled(api: ApiClient, namespace: str, name: str, expected: int) -> bool:
    """Every pod of the DaemonSet runs the current template and is available."""
    daemonset = api.get(f"/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}")
    if daemonset is None:
        return False
    status = daemonset.get("status", {})
    return (
        status.get("observedGeneration") == daemonset["metadata"]["generation"]
        and status.get("desiredNumberScheduled") == expected
        and status.get("updatedNumberScheduled") == expected
        and status.get("numberAvailable") == expected
        and status.get("numberUnavailable", 0) == 0
    )


def deployment_settled(api: ApiClient, namespace: str, name: str) -> bool:
    deployment = api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
    if deployment is None:
        return False
    status, replicas = deployment.get("status", {}), deployment["spec"].get("replicas", 1)
    return (
        status.get("observedGeneration") == deployment["metadata"]["generation"]
        and status.get("updatedReplicas") == replicas
        and status.get("availableReplicas") == replicas
        and status.get("replicas") == replicas
    )


def wait_for(what: str, check, timeout: float, interval: float = 0.5) -> float:
    """Seconds until ``check()`` held; fails naming ``what`` after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(interval)
    raise AssertionError(f"{what}: not reached in {timeout:.0f} s")
