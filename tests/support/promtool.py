"""Shared promtool helpers for the alert and dashboard tests."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml


def write_rule_file(path: Path, groups: list[dict[str, Any]]) -> Path:
    """Write PrometheusRule ``spec.groups`` as a Prometheus rule file."""
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False), encoding="utf-8")
    return path


def run_promtool(promtool: str, *args: str, timeout: float = 300) -> str:
    """Run promtool, fail the test with its output unless it succeeds, and return the output."""
    proc = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=timeout, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output
