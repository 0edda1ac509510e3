"""Shared fixtures: the mock-engine evaluator and the calicoctl sandbox."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from tests.support.calicoctl_sandbox import CalicoctlSandbox
from tools.mock_engine import Evaluation, evaluate, reveal

KDD = {"kubernetes:context": "prod-eu-1", "calico-monitoring:datastore": {"type": "kubernetes"}}
FELIX_COMMAND = "calico-monitoring-felix-calicoctl-patch"


@pytest.fixture
def sandbox(tmp_path) -> CalicoctlSandbox:
    return CalicoctlSandbox(tmp_path)


class FelixCommand:
    """The calicoctl Command one stack config registers, ready to run in a sandbox."""

    def __init__(self, evaluation: Evaluation) -> None:
        command = evaluation.named(FELIX_COMMAND)
        self.registration = command
        self.create: str = command.inputs["create"]
        self.delete: str = command.inputs["delete"]
        self.environment: dict[str, str] = reveal(command.inputs.get("environment", {}))


@pytest.fixture
def felix_command():
    def build(config: Mapping[str, Any] = KDD, secret_keys: Iterable[str] = ()) -> FelixCommand:
        return FelixCommand(evaluate(config, secret_keys))

    return build
