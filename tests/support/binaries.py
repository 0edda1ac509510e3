"""Locate the real Prometheus binaries the tests run against: every supported release, from the e2e binary cache.

tests/e2e/build-binaries.sh builds each release pinned in tests/e2e/versions.env into
``<cache>/prometheus-<version>/bin/``. On a developer machine without them the tests skip with
the build command; under CI (``CI=true``) a missing binary is a failure, never a skip.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.cluster import cache_root, versions

BUILD_HINT = "build it with: tests/e2e/build-binaries.sh prometheus prometheus2"
# The versions.env pins of the releases make test proves: the newest 3.x (make e2e runs it too) and the last 2.x.
SUPPORTED_PINS = ("PROMETHEUS_VERSION", "PROMETHEUS2_VERSION")


def missing(message: str) -> None:
    """Skip the test with ``message``, or fail it under CI."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: tests that need it must run)")
    pytest.skip(message)


@dataclass(frozen=True)
class PrometheusRelease:
    """One Prometheus release (``v3.16.0``): its ``prometheus`` and ``promtool`` in the binary cache."""

    version: str

    @property
    def id(self) -> str:
        return f"prometheus-{self.version.removeprefix('v')}"

    @property
    def bin_dir(self) -> Path:
        return cache_root() / f"prometheus-{self.version}" / "bin"

    def binary(self, name: str) -> str:
        path = self.bin_dir / name
        if not os.access(path, os.X_OK):
            missing(f"{name} {self.version} is not at {path}; {BUILD_HINT}")
        return str(path)

    @property
    def prometheus(self) -> str:
        return self.binary("prometheus")

    @property
    def promtool(self) -> str:
        return self.binary("promtool")


def supported_releases() -> list[PrometheusRelease]:
    pins = versions()
    return [PrometheusRelease(pins[pin]) for pin in SUPPORTED_PINS]
