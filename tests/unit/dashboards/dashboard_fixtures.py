"""The dashboard fixtures of tests/fixtures/dashboards, as the unit tests of dashboards/ load them."""

from __future__ import annotations

from dashboards.loading import load_dashboard_sources
from tests.paths import FIXTURES as TEST_FIXTURES

FIXTURES = TEST_FIXTURES / "dashboards"
#: The data source uid the tests point dashboards at.
UID = "prom-main-7f3a"


def load_fixture(name: str) -> dict:
    return load_dashboard_sources(str(FIXTURES / name))[name]
