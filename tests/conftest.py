"""Shared fixtures: the mock-engine evaluator, the calicoctl sandbox, and the Prometheus releases the tests that run
Prometheus or promtool run once each on."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.support.binaries import PrometheusRelease, supported_releases
from tests.support.calicoctl_sandbox import CalicoctlSandbox
from tools.evaluator.mock_engine import Evaluation, evaluate, reveal

KDD = {"kubernetes:context": "prod-eu-1", "calico-monitoring:datastore": {"type": "kubernetes"}}
FELIX_COMMAND = "calico-monitoring-felix-calicoctl-patch"


LAYERS = ("unit", "program", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The folder a test sits in is its layer: tests/<layer>/... gets the marker <layer>."""
    tests = Path(__file__).resolve().parent
    for item in items:
        layer = item.path.resolve().relative_to(tests).parts[0]
        if layer not in LAYERS:
            raise pytest.UsageError(f"{item.nodeid}: tests live in tests/<layer>/, layer one of {', '.join(LAYERS)}")
        item.add_marker(getattr(pytest.mark, layer))


@pytest.fixture
def sandbox(tmp_path) -> CalicoctlSandbox:
    return CalicoctlSandbox(tmp_path)


class FelixPatch:
    """The calicoctl patch one stack config registers: its inputs as the dynamic provider receives them."""

    def __init__(self, evaluation: Evaluation) -> None:
        registration = evaluation.named(FELIX_COMMAND)
        self.registration = registration
        self.props: dict[str, Any] = {k: v for k, v in reveal(registration.inputs).items() if k != "__provider"}


@pytest.fixture
def felix_patch():
    def build(config: Mapping[str, Any] = KDD, secret_keys: Iterable[str] = ()) -> FelixPatch:
        return FelixPatch(evaluate(config, secret_keys))

    return build


@pytest.fixture(scope="module", params=supported_releases(), ids=lambda release: release.id)
def prometheus_release(request: pytest.FixtureRequest) -> PrometheusRelease:
    return request.param


@pytest.fixture(scope="module")
def prometheus_binary(prometheus_release: PrometheusRelease) -> str:
    return prometheus_release.prometheus


@pytest.fixture(scope="module")
def promtool(prometheus_release: PrometheusRelease) -> str:
    return prometheus_release.promtool
