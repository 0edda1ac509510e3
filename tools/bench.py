"""How much the program's own logic costs on top of the resources it registers.

    python -m tools.bench [--runs N]

For each example stack, in one process: the real program on the mock engine, and a
bare program that imports the same packages and registers the same resources with
the same inputs directly. Prints the median times and their ratio (target: at most
1.2x). A benchmark to read, not a test that fails.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time

import pulumi
import pulumi_command  # noqa: F401  (the bare program pays the same imports)
import pulumi_kubernetes  # noqa: F401

from tools.mock_engine import Registration, evaluate, load_stack_file
from tools.render import all_stacks

TARGET = 1.2


def bare_program(registrations: list[Registration]):
    """Registers the recorded resources as raw resources: no config parsing, no builders."""
    ordered = sorted(registrations, key=lambda r: r.urn.count("$"))

    def program() -> None:
        by_urn: dict[str, pulumi.Resource] = {}
        for registration in ordered:
            parent = by_urn.get(registration.parent)
            opts = pulumi.ResourceOptions(parent=parent)
            if registration.custom:
                resource = pulumi.CustomResource(registration.type, registration.name, registration.plain_inputs, opts)
            else:
                resource = pulumi.ComponentResource(registration.type, registration.name, None, opts)
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
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="evaluations per measurement (default 30)")
    args = parser.parse_args(argv)
    print(f"{'stack':<24} {'program':>10} {'bare':>10} {'ratio':>7}")
    worst = 0.0
    for stack in all_stacks():
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
