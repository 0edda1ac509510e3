"""Run the program's calicoctl scripts under /bin/sh against the stand-in calicoctl."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FAKE = Path(__file__).with_name("fake_calicoctl.py")


@dataclass
class ScriptRun:
    returncode: int
    stdout: str
    stderr: str
    calls: list[dict[str, Any]]


class CalicoctlSandbox:
    def __init__(self, root: Path, bin_dir: str = "bin") -> None:
        self.state = root / "datastore"
        self.bin = root / bin_dir
        self.tmp = root / "tmp"
        self.home = root / "home"
        for folder in (self.state, self.bin, self.tmp, self.home):
            folder.mkdir(parents=True, exist_ok=True)
        self.calicoctl = self.bin / "calicoctl"
        shutil.copy(FAKE, self.calicoctl)
        self.calicoctl.chmod(0o755)
        self._calls_seen = 0

    def seed(self, kind: str, name: str, spec: dict[str, Any]) -> None:
        document = {"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": {"name": name}, "spec": spec}
        (self.state / f"{kind.lower()}.{name}.json").write_text(json.dumps(document))

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        return json.loads((self.state / f"{kind.lower()}.{name}.json").read_text())

    def run(
        self,
        script: str,
        environment: dict[str, str],
        *,
        extra_env: dict[str, str] | None = None,
        path_first: Path | None = None,
    ) -> ScriptRun:
        python_dir = os.path.dirname(shutil.which("python3") or "/usr/bin/python3")
        path = [str(path_first or self.bin), python_dir, "/usr/bin", "/bin"]
        env = {
            "PATH": os.pathsep.join(path),
            "HOME": str(self.home),
            "TMPDIR": str(self.tmp),
            "FAKE_CALICOCTL_DIR": str(self.state),
        }
        env.update(extra_env or {})
        env.update(environment)
        proc = subprocess.run(
            ["/bin/sh", "-c", script],
            cwd=self.home,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return ScriptRun(proc.returncode, proc.stdout, proc.stderr, self._new_calls())

    def _new_calls(self) -> list[dict[str, Any]]:
        log = self.state / "calls.jsonl"
        lines = log.read_text().splitlines() if log.exists() else []
        new, self._calls_seen = lines[self._calls_seen :], len(lines)
        return [json.loads(line) for line in new]

    def leftovers(self) -> list[str]:
        """Anything the scripts left in TMPDIR (they must clean up, secrets included)."""
        return sorted(p.name for p in self.tmp.iterdir())
