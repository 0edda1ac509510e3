"""Which calicoctl the pull-request workflow installs for a stack, read from its stack file."""

from __future__ import annotations

import re

import pytest
import yaml

from calicoctl.installation import Installation, NoRelease, installation, main


def stack_file(tmp_path, config: dict, **document) -> object:
    path = tmp_path / "Pulumi.prod-eu-1.yaml"
    path.write_text(yaml.safe_dump({**document, "config": config}))
    return path


def test_the_release_the_stack_names_is_installed_under_the_name_it_runs(tmp_path):
    found = installation(stack_file(tmp_path, {"calico-monitoring:calicoctl": {"version": "v3.31.0"}}))
    assert found == Installation(True, "v3.31.0", "calicoctl", "prod-eu-1 runs calicoctl v3.31.0 as calicoctl")
    assert found.outputs() == "install=true\nversion=v3.31.0\nname=calicoctl\n"
    named = installation(
        stack_file(tmp_path, {"calico-monitoring:calicoctl": {"version": "v3.30.2", "path": "calicoctl-3.30"}})
    )
    assert (named.install, named.version, named.name) == (True, "v3.30.2", "calicoctl-3.30")


def test_a_stack_that_runs_calicoctl_from_a_path_gets_nothing_installed(tmp_path):
    config = {"calico-monitoring:calicoctl": {"version": "v3.31.0", "path": "/opt/calico/bin/calicoctl"}}
    found = installation(stack_file(tmp_path, config))
    assert not found.install and found.version == "v3.31.0"
    assert "runs calicoctl at /opt/calico/bin/calicoctl" in found.note and "not installed here" in found.note


def test_a_stack_that_renders_scripts_needs_no_calicoctl(tmp_path):
    found = installation(stack_file(tmp_path, {"calico-monitoring:renderYamlTo": "out"}))
    assert found.outputs() == "install=false\nversion=\nname=\n"


@pytest.mark.parametrize(
    ("config", "document", "expected"),
    [
        ({}, {}, "calico-monitoring:calicoctl.version is not set; this workflow installs calicoctl of that release"),
        (
            {"calico-monitoring:calicoctl": {"path": "calicoctl"}},
            {"environment": ["prod"]},
            "is not set (a value from a Pulumi ESC environment is not read here)",
        ),
        (
            {"calico-monitoring:calicoctl": {"version": "3.31"}},
            {},
            "calico-monitoring:calicoctl.version is '3.31'; expected a Calico release such as \"v3.31.0\"",
        ),
    ],
)
def test_a_stack_that_names_no_release_stops_the_job_saying_what_to_set(tmp_path, capsys, config, document, expected):
    path = stack_file(tmp_path, config, **document)
    with pytest.raises(NoRelease, match=re.escape(expected)):
        installation(path)
    assert main([str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"::error file={path}::Pulumi.prod-eu-1.yaml: ")
    if "not set" in expected:
        assert "pulumi config set --path calico-monitoring:calicoctl.version v3.31.0 --stack prod-eu-1" in captured.err
