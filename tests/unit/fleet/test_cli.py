"""Which stacks a fleet run takes, which backend it uses, and that one stack's failure never stops the others."""

import json
import os
import sys
import threading
import time

import pytest

from fleet.cli import FleetError, backend_environment, cluster_stacks, main, select_stacks
from fleet.pool import SOURCE_ROOT, run_all, run_worker
from fleet.results import StackResult
from fleet.run_one import StackJob


def project(tmp_path, *stacks):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "Pulumi.yaml").write_text("name: calico-monitoring\nruntime: python\n")
    for name in stacks:
        (tmp_path / f"Pulumi.{name}.yaml").write_text("config: {}\n")
    return tmp_path


def test_every_stack_file_but_the_examples_is_a_cluster(tmp_path):
    folder = project(tmp_path, "example-kdd", "example-etcd", "prod-eu-1", "staging")
    (folder / "Pulumi.dev.yml").write_text("config: {}\n")
    (folder / "Pulumi.yaml.bak").write_text("")
    assert cluster_stacks(folder) == ["dev", "prod-eu-1", "staging"]


def test_stacks_chosen_by_name_in_the_order_given_and_unknown_names_refused(tmp_path):
    folder = project(tmp_path, "example-kdd", "prod-eu-1", "staging")
    available = cluster_stacks(folder)
    assert select_stacks(available, None, folder) == ["prod-eu-1", "staging"]
    assert select_stacks(available, " staging,prod-eu-1  staging ", folder) == ["staging", "prod-eu-1"]
    assert select_stacks(available, "example-kdd", folder) == ["example-kdd"]
    with pytest.raises(FleetError, match=r"no Pulumi.<stack>.yaml for prod-us-1 in .*; its cluster stacks are"):
        select_stacks(available, "prod-us-1 staging", folder)


def fake_pulumi(folder, whoami_status):
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    script = bin_dir / "pulumi"
    script.write_text(f"#!/bin/sh\necho 'error: not logged in' >&2\nexit {whoami_status}\n")
    script.chmod(0o755)
    return str(bin_dir)


def test_the_backend_is_the_one_make_up_uses(tmp_path, capsys):
    folder = project(tmp_path / "project")
    home = tmp_path / "home"
    home.mkdir()
    logged_out = {"PATH": fake_pulumi(tmp_path, 255), "HOME": str(home)}
    assert backend_environment({**logged_out, "PULUMI_BACKEND_URL": "s3://bucket"}, folder)["PULUMI_BACKEND_URL"] == (
        "s3://bucket"
    )
    local = backend_environment(logged_out, folder)
    assert local["PULUMI_BACKEND_URL"] == f"file://{folder / '.pulumi-state'}"
    assert (folder / ".pulumi-state").is_dir()
    assert "not logged in to a Pulumi backend" in capsys.readouterr().err
    # A login that exists but does not work must not quietly become a second, empty state.
    (home / ".pulumi").mkdir()
    (home / ".pulumi" / "credentials.json").write_text(json.dumps({"current": "https://api.pulumi.com"}))
    with pytest.raises(FleetError, match="a Pulumi login exists but `pulumi whoami` failed"):
        backend_environment(logged_out, folder)
    with pytest.raises(FleetError, match="the Pulumi CLI is not installed"):
        backend_environment({"PATH": str(tmp_path / "nowhere")}, folder)


def test_the_command_refuses_to_start_without_a_project_or_with_a_bad_choice(tmp_path, capsys):
    assert main(["preview", "--work-dir", str(tmp_path)]) == 1
    assert "no Pulumi.yaml in" in capsys.readouterr().err
    project(tmp_path, "prod")
    assert main(["preview", "--work-dir", str(tmp_path), "--stacks", "nope"], env={"PATH": ""}) == 1
    assert "no Pulumi.<stack>.yaml for nope" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:
        main(["deploy"])
    assert stopped.value.code == 1  # 2 means changes


def test_every_stack_gets_one_result_in_order_whatever_the_others_do_and_at_most_parallel_run():
    running, most = [], []
    lock = threading.Lock()

    def worker(job, env):
        with lock:
            running.append(job.stack)
            most.append(len(running))
        time.sleep(0.05)
        with lock:
            running.remove(job.stack)
        if job.stack == "crashes":
            raise RuntimeError("worker lost")
        if job.stack == "fails":
            return StackResult(job.stack, job.action, error="unreachable")
        return StackResult(job.stack, job.action, changes={"create": 1})

    names = ["a", "crashes", "b", "fails", "c", "d"]
    finished = []
    results = run_all(
        [StackJob(name, "preview", ".") for name in names],
        2,
        {},
        on_done=lambda result, progress: finished.append((result.stack, len(progress.done))),
        worker=worker,
    )
    assert [r.stack for r in results] == names
    assert results[1].error == "RuntimeError: worker lost"
    assert results[3].error == "unreachable"
    assert [r.changes for r in results if r.error is None] == [{"create": 1}] * 4
    assert max(most) == 2
    assert sorted(count for _, count in finished) == [1, 2, 3, 4, 5, 6]


def test_a_worker_process_reports_a_failure_as_its_stacks_error(tmp_path):
    # No Pulumi CLI on PATH: the worker still answers with its stack's row.
    folder = project(tmp_path / "project", "prod")
    env = {"PATH": os.path.dirname(sys.executable), "HOME": str(tmp_path)}
    result = run_worker(StackJob("prod", "preview", str(folder)), env)
    assert (result.stack, result.action) == ("prod", "preview")
    assert result.error and "pulumi" in result.error.lower(), result.error
    assert str(SOURCE_ROOT) != str(folder)  # the worker found the fleet package outside the project folder


def test_stdout_carries_only_the_document_or_the_table(tmp_path, capsys):
    folder = project(tmp_path / "project", "example-kdd")
    env = {"PATH": str(tmp_path / "no-pulumi-here")}
    summary = tmp_path / "summary.md"
    assert main(["drift", "--json", "--work-dir", str(folder), "--markdown", str(summary)], env=env) == 0
    assert json.loads(capsys.readouterr().out)["stacks"] == []
    assert summary.read_text().startswith("### `make fleet ACTION=drift`: 0 stacks, 0 drifted")
    assert main(["drift", "--work-dir", str(folder)], env=env) == 0
    out, err = capsys.readouterr()
    assert out == "" and "fleet: no cluster stacks in" in err


def test_a_worker_gets_a_private_tmpdir_the_fleet_package_and_this_interpreter_for_dynamic_providers(tmp_path):
    from fleet.pool import worker_environment

    env = worker_environment({"PATH": "/usr/bin", "PYTHONPATH": "/elsewhere", "TMPDIR": "/tmp"}, str(tmp_path))
    assert env["TMPDIR"] == str(tmp_path)
    assert env["PYTHONPATH"].split(os.pathsep) == [str(SOURCE_ROOT), "/elsewhere"]
    # pulumi-resource-pulumi-python runs $PULUMI_PYTHON_CMD: the interpreter that has the SDK and this program's code.
    assert env["PULUMI_PYTHON_CMD"] == sys.executable
    assert worker_environment({"PULUMI_PYTHON_CMD": "/opt/python"}, str(tmp_path))["PULUMI_PYTHON_CMD"] == "/opt/python"
