"""Locate the real Prometheus binaries the tests run against.

On a developer machine without them the tests skip with the install command;
under CI (``CI=true``) a missing binary is a failure, never a skip.
"""

import os
import shutil

import pytest

INSTALL_HINT = "install it with: sudo apt-get install -y prometheus"


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not on PATH; {INSTALL_HINT}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: tests that need it must run)")
    pytest.skip(message)
