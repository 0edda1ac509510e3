"""Evaluating a stack twice gives identical inputs: the reason a second preview is quiet."""

import dataclasses

import pytest

from tools.evaluator.mock_engine import evaluate, load_stack_file
from tools.evaluator.render import stacks_with_their_config


def snapshot(evaluation):
    return sorted((dataclasses.astuple(r) for r in evaluation.registrations), key=repr)


@pytest.mark.parametrize("stack", stacks_with_their_config())
def test_two_evaluations_register_identical_inputs(stack, tmp_path, monkeypatch):
    config = load_stack_file(stack)
    first = snapshot(evaluate(config.values, config.secret_keys, stack=stack))
    # Another working directory, home and temp folder: nothing of the machine may leak in.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    second = snapshot(evaluate(config.values, config.secret_keys, stack=stack))
    assert first == second
    assert str(tmp_path) not in repr(second)
