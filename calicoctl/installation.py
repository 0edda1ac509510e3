"""Which calicoctl the pull-request workflow installs for a stack: the release its stack file names.

    .venv/bin/python -m calicoctl.installation Pulumi.<stack>.yaml >> "$GITHUB_OUTPUT"

prints the step outputs `install` (true or false), `version` and `name` (the executable's name on PATH), and
says why on stderr; a stack that runs calicoctl but names no release (or an invalid one) exits 1 with a GitHub
error annotation naming the setting to add. The program itself checks the calicoctl it finds against
calico-monitoring:calicoctl.version (calicoctl.provider.Calicoctl.executable), and calicoctl checks itself against
the cluster's Calico unless allowVersionMismatch.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from configuration.connection import is_calico_release
from configuration.problems import PROJECT

DEFAULT_NAME = "calicoctl"


@dataclass(frozen=True)
class Installation:
    install: bool
    version: str = ""
    name: str = ""
    note: str = ""

    def outputs(self) -> str:
        return f"install={'true' if self.install else 'false'}\nversion={self.version}\nname={self.name}\n"


class NoRelease(Exception):
    """The stack runs calicoctl, and its stack file does not say which release."""


def installation(stack_file: Path) -> Installation:
    document = yaml.safe_load(stack_file.read_text()) or {}
    config: dict[str, Any] = document.get("config") or {}
    stack = stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml")
    if config.get(f"{PROJECT}:renderYamlTo"):
        return Installation(False, note=f"{stack} renders its calicoctl steps as scripts (renderYamlTo): no calicoctl")
    settings = config.get(f"{PROJECT}:calicoctl") or {}
    version = settings.get("version") if isinstance(settings, dict) else None
    path = str(settings.get("path") or DEFAULT_NAME) if isinstance(settings, dict) else DEFAULT_NAME
    if version is None:
        environment = " (a value from a Pulumi ESC environment is not read here)" if document.get("environment") else ""
        raise NoRelease(
            f"{stack_file.name}: {PROJECT}:calicoctl.version is not set{environment}; this workflow installs "
            "calicoctl of that release, the cluster's Calico release (`calicoctl version` prints it as Cluster "
            "Version): "
            f"pulumi config set --path {PROJECT}:calicoctl.version v3.31.0 --stack {stack}"
        )
    if not isinstance(version, str) or not is_calico_release(version):
        raise NoRelease(
            f"{stack_file.name}: {PROJECT}:calicoctl.version is {version!r}; "
            'expected a Calico release such as "v3.31.0"'
        )
    if "/" in path:
        return Installation(
            False,
            version,
            note=f"{stack} runs calicoctl at {path} ({PROJECT}:calicoctl.path): not installed here; the program "
            f"stops if it is missing or not {version}",
        )
    return Installation(True, version, path, note=f"{stack} runs calicoctl {version} as {path}")


def main(argv: list[str]) -> int:
    (stack_file,) = argv
    try:
        found = installation(Path(stack_file))
    except NoRelease as error:
        print(f"::error file={stack_file}::{error}", file=sys.stderr)
        return 1
    print(found.note, file=sys.stderr)
    sys.stdout.write(found.outputs())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
