"""A stack made by release 0.2 or 0.3, run with this release: nothing is replaced or deleted.

Each release is read from this clone's git history by commit, run with the real CLI against a local
control plane, and then this tree's program takes its place on the same stack and state.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import tomllib

import pytest
import yaml

from tests.e2e.conftest import PROGRAM_FILES, ROOT, copy_program, prepare_stack
from tests.e2e.test_stacks import install_operator_installation

pytestmark = pytest.mark.e2e

RELEASE_0_2 = "1b87f5979bc4363df61d7e2bace4d3c5d466cd10"  # tag v0.2.0
RELEASE_0_2_FILES = ("Pulumi.yaml", "__main__.py", "components", "dashboards", "requirements.txt")
# Release 0.3: the last commit before the one-plan restructuring (issue 20); its program is what its
# pyproject.toml lists, as this tree's is.
RELEASE_0_3 = "b9098b862543ab2baa0e31ae7238f9a5b54eaf5f"

SCENARIOS = {
    # stack file of the release, settings beside it, Typha installed, operator install
    "manifest-pod-scrape": ("example-kdd", {"calico-monitoring:typha": {"enabled": True}}, True, False),
    "manifest-service-scrape": (
        "example-kdd",
        {"calico-monitoring:typha": {"enabled": True}, "calico-monitoring:felix": {"scrape": "service"}},
        True,
        False,
    ),
    "operator": ("example-operator", {}, False, True),
}


def release_tree(folder, commit=RELEASE_0_2, release="0.2"):
    """A release's files, from git (a shallow clone lacks them: the scenario then fails saying so)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit], capture_output=True, check=False
    )
    if archive.returncode != 0:
        raise AssertionError(
            f"release {release} (commit {commit}) is not in this clone's history "
            f"({archive.stderr.decode().strip()}); run `git fetch --unshallow --tags` first"
        )
    target = folder / f"release-{release}"
    target.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return target


def resources(export: str) -> dict[str, tuple[str, str]]:
    """URN -> (type, id) of every resource in the stack's state."""
    deployment = json.loads(export)["deployment"]
    return {r["urn"]: (r["type"], r.get("id", "")) for r in deployment.get("resources", [])}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_stack_made_by_release_0_2_upgrades_without_replacing_anything(
    make_cluster, binaries, pulumi_home, tmp_path, request, scenario
):
    stack_file, extra, typha, operator = SCENARIOS[scenario]
    cluster = make_cluster(typha=typha)
    if operator:
        install_operator_installation(cluster)
    felix_before = cluster.calico_resource("felixConfiguration")["spec"]
    release = release_tree(tmp_path)
    config = {
        **yaml.safe_load((release / f"Pulumi.{stack_file}.yaml").read_text())["config"],
        "kubernetes:context": "e2e",
        **extra,
    }
    stack = prepare_stack(
        binaries, pulumi_home, tmp_path, cluster, config, scenario=request.node.name,
        source=release, files=RELEASE_0_2_FILES,
    )  # fmt: skip
    request.node.stash_stack = stack
    stack.up()
    made_by_release_export = stack.export()
    made_by_release = resources(made_by_release_export)

    for item in RELEASE_0_2_FILES:
        path = stack.project / item
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    copy_program(ROOT, PROGRAM_FILES, stack.project)

    preview = json.loads(stack.preview("--json").stdout)
    changed = {(step["op"], step["urn"].rsplit("::", 1)[1], step["urn"].split("::")[2].rsplit("$", 1)[-1])
               for step in preview["steps"] if step["op"] not in ("same", "read")}  # fmt: skip
    # This release changes what the dashboards and rules say: those update in place, nothing else moves.
    # It adds what touches nothing in the cluster: the preflight lookups (a chart that renders nothing) and a
    # PatchRelease beside each patch (its create only reads the patched object).
    content = ("kubernetes:core/v1:ConfigMap", "kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    added = ("kubernetes:helm.sh/v4:Chart", "pulumi-python:dynamic/calico-monitoring:PatchRelease")
    moved = {
        step
        for step in changed
        if not (step[0] == "update" and step[2] in content) and not (step[0] == "create" and step[2] in added)
    }
    assert moved == set(), changed
    assert "kubernetes:helm.sh/v4:Chart" in {step[2] for step in changed if step[0] == "create"}, changed
    stack.up()
    stack.preview("--expect-no-changes")
    export = stack.export()
    # Reads this release adds (the restart warnings read Calico's workloads) change nothing in the cluster.
    upgraded = {urn: entry for urn, entry in resources(export).items() if urn not in read_resources(export)}
    made_by_release_reads = read_resources(made_by_release_export)
    made_by_release = {urn: entry for urn, entry in made_by_release.items() if urn not in made_by_release_reads}
    # Every object the release made is still the same object (same ID), now under this release's names; the
    # only others are the ones this release adds (and the engine's provider of the chart's package).
    new_types = {*added, "pulumi:providers:pulumi"}
    assert sorted(v for v in upgraded.values() if v[0] not in new_types) == sorted(made_by_release.values())
    assert not [v for v in made_by_release.values() if v[0] in new_types]
    assert any(urn not in made_by_release for urn in upgraded), "no resource moved: the scenario tests nothing"

    # Destroy with this release restores what release 0.2 changed.
    stack.destroy()
    assert cluster.calico_resource("felixConfiguration")["spec"] == felix_before


def read_resources(export: str) -> set[str]:
    """The URNs of the resources the program only reads (`.get`): external in the state."""
    return {r["urn"] for r in json.loads(export)["deployment"].get("resources", []) if r.get("external")}


def program_files_of(release):
    """The program files of a release tree: its Pulumi project, entry point, requirements and packages."""
    packages = tomllib.loads((release / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    return ("Pulumi.yaml", "__main__.py", "requirements.txt", *packages)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_stack_made_by_release_0_3_sees_no_change(make_cluster, binaries, pulumi_home, tmp_path, request, scenario):
    stack_file, extra, typha, operator = SCENARIOS[scenario]
    cluster = make_cluster(typha=typha)
    if operator:
        install_operator_installation(cluster)
    felix_before = cluster.calico_resource("felixConfiguration")["spec"]
    release = release_tree(tmp_path, RELEASE_0_3, "0.3")
    files = program_files_of(release)
    config = {
        **yaml.safe_load((release / f"Pulumi.{stack_file}.yaml").read_text())["config"],
        "kubernetes:context": "e2e",
        **extra,
    }
    stack = prepare_stack(
        binaries, pulumi_home, tmp_path, cluster, config, scenario=request.node.name, source=release, files=files
    )
    request.node.stash_stack = stack
    stack.up()
    made_by_release = resources(stack.export())

    for item in files:
        path = stack.project / item
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    copy_program(ROOT, PROGRAM_FILES, stack.project)

    # The restructuring changes no resource: not one step but reads, in preview and in up.
    preview = json.loads(stack.preview("--json").stdout)
    changed = [(step["op"], step["urn"]) for step in preview["steps"] if step["op"] not in ("same", "read")]
    assert changed == []
    stack.preview("--expect-no-changes")
    stack.up()
    upgraded = resources(stack.export())
    # Every object 0.3 made is the same object (URN, type, ID); all this release adds are reads (the restart
    # warnings' reads of Calico's workloads), which change nothing in the cluster.
    assert {urn: upgraded.get(urn) for urn in made_by_release} == made_by_release
    added = set(upgraded) - set(made_by_release)
    assert added == {urn for urn in read_resources(stack.export()) if urn not in made_by_release}

    stack.destroy()
    assert cluster.calico_resource("felixConfiguration")["spec"] == felix_before
