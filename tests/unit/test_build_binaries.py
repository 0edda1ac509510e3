"""tests/e2e/build-binaries.sh's queue, run against a fake `go` that records its calls: a failed build stops at
its failing step, the others still finish, and the script fails naming it; what is built is not built again;
bad names and BUILD_JOBS are refused before anything runs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "tests" / "e2e" / "build-binaries.sh"

# `go get` fails for the module named in FAKE_GO_FAIL; `go build -o X` creates X (a file, or one per package
# when X is a folder); `go mod download -json` answers with a go.mod that has no replace; the rest succeeds.
FAKE_GO = r"""#!/usr/bin/env bash
printf '%s\n' "$*" >> "$FAKE_GO_CALLS"
case "$1 $2" in
  "mod init") echo "module $3" > go.mod ;;
  "mod download")
    echo 'module fake' > "$FAKE_GO_CALLS.mod"
    printf '{"GoMod": "%s", "Origin": {"Hash": "0"}}\n' "$FAKE_GO_CALLS.mod" ;;
  "get -tool" | "get "*)
    if [ -n "${FAKE_GO_FAIL:-}" ] && [[ "$*" == *"$FAKE_GO_FAIL"* ]]; then
      echo "fake go: cannot download $FAKE_GO_FAIL" >&2
      exit 1
    fi ;;
  "build "*)
    out=""; packages=()
    while [ $# -gt 0 ]; do
      case $1 in
        -o) out=$2; shift ;;
        -tags | -ldflags) shift ;;
        -*) ;;
        build) ;;
        *) packages+=("$1") ;;
      esac
      shift
    done
    if [[ "$out" == */ ]]; then
      for package in "${packages[@]}"; do
        printf '#!/bin/sh\n' > "$out${package##*/}"; chmod +x "$out${package##*/}"
      done
    else
      printf '#!/bin/sh\n' > "$out"; chmod +x "$out"
    fi ;;
esac
exit 0
"""


@pytest.fixture
def fake_go(tmp_path: Path):
    folder = tmp_path / "fake-bin"
    folder.mkdir()
    (folder / "go").write_text(FAKE_GO)
    (folder / "go").chmod(0o755)
    calls = tmp_path / "go-calls"
    calls.touch()
    cache = tmp_path / "cache"

    def run(*names: str, **env: str) -> subprocess.CompletedProcess:
        environment = {
            "PATH": f"{folder}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "CALICO_MONITORING_E2E_CACHE": str(cache),
            "FAKE_GO_CALLS": str(calls),
            **env,
        }
        return subprocess.run(
            ["bash", str(SCRIPT), *names], capture_output=True, text=True, env=environment, timeout=60
        )

    run.calls = lambda: calls.read_text().splitlines()  # type: ignore[attr-defined]
    run.cache = cache  # type: ignore[attr-defined]
    return run


def builds_of(calls: list[str], module: str) -> list[str]:
    return [call for call in calls if call.startswith("build ") and module in call]


def test_a_failed_build_stops_at_its_step_the_others_finish_and_the_script_names_it(fake_go):
    ran = fake_go("etcd", "kwok", FAKE_GO_FAIL="go.etcd.io/etcd")
    assert ran.returncode == 1, ran.stderr
    assert "etcd v3.6.8: FAILED (exit 1)" in ran.stderr
    assert "fake go: cannot download go.etcd.io/etcd" in ran.stderr  # the end of its log, shown
    assert ran.stderr.rstrip().endswith("build-binaries: failed: etcd")
    assert builds_of(fake_go.calls(), "go.etcd.io") == [], "etcd's go build ran after its go get failed"
    assert os.access(fake_go.cache / "kwok-v0.8.0" / "bin" / "kwok", os.X_OK)
    assert "kwok v0.8.0: built in" in ran.stderr
    log = (fake_go.cache / "logs" / "etcd-v3.6.8.log").read_text()
    assert "fake go: cannot download go.etcd.io/etcd" in log


def test_what_is_built_is_not_built_again(fake_go):
    assert fake_go("kwok").returncode == 0
    before = len(fake_go.calls())
    again = fake_go("kwok", "etcd")
    assert again.returncode == 0, again.stderr
    assert "kwok v0.8.0: cached in" in again.stderr
    assert builds_of(fake_go.calls()[before:], "sigs.k8s.io/kwok") == []
    assert len(builds_of(fake_go.calls()[before:], "go.etcd.io")) == 1


def test_calicoctl_and_calico_are_one_build_of_five_binaries(fake_go):
    ran = fake_go("calicoctl", "calico")
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr.count("building into") == 1
    folder = fake_go.cache / "calico-v3.31.0-go1.24.9" / "bin"
    names = ["calicoctl", "calico-node", "calico-felix", "calico-typha", "calico-kube-controllers"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)
    assert len(builds_of(fake_go.calls(), "projectcalico")) == 1


@pytest.mark.parametrize(
    ("names", "env", "message"),
    [
        (("kwok", "kubectl"), {}, "unknown binary 'kubectl' (known: modules kubernetes calicoctl"),
        (("kwok",), {"BUILD_JOBS": "0"}, "BUILD_JOBS must be a whole number of at least 1, not '0'"),
        (("kwok",), {"BUILD_JOBS": "two"}, "BUILD_JOBS must be a whole number of at least 1, not 'two'"),
    ],
)
def test_bad_names_and_job_counts_are_refused_before_anything_runs(fake_go, names, env, message):
    ran = fake_go(*names, **env)
    assert ran.returncode == 2
    assert message in ran.stderr
    assert fake_go.calls() == []
