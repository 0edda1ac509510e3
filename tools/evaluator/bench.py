"""How much the program's own logic costs on top of the resources it registers.

    python -m tools.evaluator.bench [--runs N]

For each example stack, in one process: the real program on the mock engine, and a
bare program that imports the same packages and registers the same resources with
the same SDK classes, inputs and options, written out flat. Prints the median times and their ratio (target: at most
1.2x). A benchmark to read, not a test that fails.
"""

from __future__ import annotations

import argparse
import functools
import re
import statistics
import sys
import time
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from calicoctl.provider import CALICOCTL_PATCH_TYPE, CalicoctlPatch
from patch_release.provider import PatchRelease
from tools.evaluator.mock_engine import Registration, evaluate, load_stack_file
from tools.evaluator.render import stacks_with_their_config

PATCH_RELEASE_TYPE = "pulumi-python:dynamic/calico-monitoring:PatchRelease"
CHART_TYPE = "kubernetes:helm.sh/v4:Chart"

TARGET = 1.2


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _provider_value(value: Any) -> Any:
    return {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value


def _kubernetes_resource(registration: Registration, opts: pulumi.ResourceOptions) -> pulumi.Resource:
    inputs = registration.plain_inputs
    kind = registration.type.split(":")[-1]
    if kind in ("DaemonSetPatch", "DeploymentPatch"):
        cls = k8s.apps.v1.DaemonSetPatch if kind == "DaemonSetPatch" else k8s.apps.v1.DeploymentPatch
        return cls(registration.name, metadata=inputs["metadata"], spec=inputs["spec"], opts=opts)
    if kind == "ConfigMap":
        return k8s.core.v1.ConfigMap(registration.name, metadata=inputs["metadata"], data=inputs["data"], opts=opts)
    if kind == "Service":
        return k8s.core.v1.Service(registration.name, metadata=inputs["metadata"], spec=inputs["spec"], opts=opts)
    cls = k8s.apiextensions.CustomResourcePatch if kind.endswith("Patch") else k8s.apiextensions.CustomResource
    return cls(
        registration.name,
        api_version=inputs["apiVersion"],
        kind=inputs["kind"],
        metadata=inputs["metadata"],
        spec=inputs["spec"],
        opts=opts,
    )


def bare_program(registrations: list[Registration]):
    """The same resources, written out: the same SDK classes, inputs, options and component
    tree, with none of the program's own work (settings, builders, dashboards, outputs)."""
    by_urn_registration = {r.urn: r for r in registrations}

    def depth(registration: Registration) -> int:
        parent = by_urn_registration.get(registration.parent)
        return 0 if parent is None else depth(parent) + 1

    # Parents before children; at each depth the provider first, as the Kubernetes resources need it.
    ordered = sorted(registrations, key=lambda r: (depth(r), r.type != "pulumi:providers:kubernetes"))

    def program() -> None:
        by_urn: dict[str, pulumi.Resource] = {}
        provider = None
        for registration in ordered:
            parent = pulumi.ResourceOptions(parent=by_urn.get(registration.parent))
            if registration.type == CHART_TYPE:
                inputs = registration.plain_inputs
                opts = pulumi.ResourceOptions.merge(parent, pulumi.ResourceOptions(provider=provider))
                resource = k8s.helm.v4.Chart(
                    registration.name, chart=inputs["chart"], values=inputs["values"], opts=opts
                )
            elif not registration.custom:
                resource = pulumi.ComponentResource(registration.type, registration.name, None, parent)
            elif registration.type == "pulumi:providers:kubernetes":
                args = {_snake(k): _provider_value(v) for k, v in registration.plain_inputs.items()}
                resource = provider = k8s.Provider(registration.name, **args, opts=parent)
            elif registration.type == CALICOCTL_PATCH_TYPE:
                inputs = {k: v for k, v in registration.plain_inputs.items() if k != "__provider"}
                resource = CalicoctlPatch(registration.name, inputs, opts=parent)
            elif registration.type == PATCH_RELEASE_TYPE:
                inputs = {k: v for k, v in registration.plain_inputs.items() if k != "__provider"}
                resource = PatchRelease(registration.name, inputs, opts=parent)
            else:
                opts = pulumi.ResourceOptions.merge(parent, pulumi.ResourceOptions(provider=provider))
                resource = _kubernetes_resource(registration, opts)
            by_urn[registration.urn] = resource

    return program


def timed(run, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.evaluator.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="evaluations per measurement (default 30)")
    args = parser.parse_args(argv)
    print(f"{'stack':<24} {'program':>10} {'bare':>10} {'ratio':>7}")
    worst = 0.0
    for stack in stacks_with_their_config():  # one taking its settings from Pulumi ESC cannot be evaluated
        config = load_stack_file(stack)
        recorded = evaluate(config.values, config.secret_keys, stack=stack)
        bare = bare_program(recorded.registrations)
        run_program = functools.partial(evaluate, config.values, config.secret_keys, stack=stack)
        run_bare = functools.partial(evaluate, config.values, config.secret_keys, stack=stack, program=bare)
        run_program(), run_bare()  # warm up
        program_s, bare_s = timed(run_program, args.runs), timed(run_bare, args.runs)
        ratio = program_s / bare_s
        worst = max(worst, ratio)
        print(f"{stack:<24} {program_s * 1000:>8.1f}ms {bare_s * 1000:>8.1f}ms {ratio:>6.2f}x")
    print(f"worst ratio {worst:.2f}x (target <= {TARGET}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
