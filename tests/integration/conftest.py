"""Every integration test that runs Prometheus or promtool runs once per supported Prometheus release."""

from __future__ import annotations

import pytest

from tests.support.binaries import PrometheusRelease, supported_releases


@pytest.fixture(scope="module", params=supported_releases(), ids=lambda release: release.id)
def prometheus_release(request: pytest.FixtureRequest) -> PrometheusRelease:
    return request.param


@pytest.fixture(scope="module")
def prometheus_binary(prometheus_release: PrometheusRelease) -> str:
    return prometheus_release.prometheus


@pytest.fixture(scope="module")
def promtool(prometheus_release: PrometheusRelease) -> str:
    return prometheus_release.promtool
