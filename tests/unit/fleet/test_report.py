"""How a fleet run is shown: the summary table, the line per finished stack, the live count, the JSON document."""

import json
import re

from fleet.report import document, finished_line, live_count, table
from fleet.results import Drifted, StackResult

CLEAN = StackResult(
    "prod-eu-1",
    "drift",
    cluster="https://10.0.0.1:6443",
    calico_version="v3.31.0",
    calicoctl_version="v3.31.0",
    seconds=3.0,
)
DRIFTED = StackResult(
    "prod-us-1",
    "drift",
    cluster="https://10.0.0.2:6443",
    calico_version="v3.30.2",
    calicoctl_version="v3.31.0",
    changes={"update": 1, "delete": 1},
    drift=[
        Drifted("FelixConfiguration default", "update", ("spec.prometheusMetricsEnabled",)),
        Drifted("PodMonitor monitoring/felix", "delete"),
    ],
    seconds=4.5,
)
UNREACHABLE = StackResult(
    "staging",
    "drift",
    cluster="https://127.0.0.1:1",
    calicoctl_version="v3.31.0",
    error="configured Kubernetes cluster is unreachable: connection refused\nmore detail",
    seconds=1.25,
)


def cells(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def test_the_table_has_a_row_per_stack_with_every_column_aligned():
    lines = table([CLEAN, DRIFTED, UNREACHABLE]).splitlines()
    assert [cells(line) for line in lines] == [
        ["STACK", "CLUSTER", "CALICO", "CALICOCTL", "CHANGES", "RESTARTS", "DRIFT", "TARGETS UP", "ERROR"],
        ["prod-eu-1", "https://10.0.0.1:6443", "v3.31.0", "v3.31.0", "none", "-", "none", "-", "-"],
        [
            "prod-us-1",
            "https://10.0.0.2:6443",
            "v3.30.2",
            "v3.31.0",
            "1 update, 1 delete",
            "-",
            "FelixConfiguration default: spec.prometheusMetricsEnabled; PodMonitor monitoring/felix deleted",
            "-",
            "-",
        ],
        [
            "staging",
            "https://127.0.0.1:1",
            "?",
            "v3.31.0",
            "-",
            "-",
            "-",
            "-",
            "configured Kubernetes cluster is unreachable: connection refused",
        ],
    ]
    header = lines[0]
    for line in lines[1:]:
        for column in ("CLUSTER", "CALICO ", "CHANGES", "DRIFT", "ERROR"):
            assert line[header.index(column) - 2 : header.index(column)] == "  ", (column, line)
            assert line[header.index(column)] != " ", (column, line)


def test_preview_and_verify_rows_show_restarts_and_targets():
    changed = StackResult(
        "a",
        "up",
        changes={"create": 12},
        restarts=["DaemonSet kube-system/calico-node", "Deployment kube-system/calico-typha"],
        targets={"monitoring/felix": {"up": 3, "expected": 3}, "monitoring/calico-typha": {"up": 1, "expected": 2}},
    )
    header, line = table([changed]).splitlines()
    cells = line.split("  ")
    assert "12 create" in cells
    assert "calico-node, calico-typha" in cells
    assert "monitoring/calico-typha 1/2, monitoring/felix 3/3" in cells
    assert header.startswith("STACK")


def test_a_long_error_is_cut_in_the_table_but_whole_in_the_document():
    failing = StackResult("a", "up", error="x" * 300)
    assert table([failing]).splitlines()[1].endswith("x" * 97 + "...")
    summary = document("up", [failing], parallel=2, seconds=1.0, expect_no_changes=False)
    assert summary["stacks"][0]["error"] == "x" * 300


def test_the_line_of_a_finished_stack():
    assert finished_line(DRIFTED, 2, 3) == (
        "[2/3] prod-us-1 (4.5 s) changes: 1 update, 1 delete; drift: FelixConfiguration default: "
        "spec.prometheusMetricsEnabled; PodMonitor monitoring/felix deleted"
    )
    assert finished_line(UNREACHABLE, 3, 3) == (
        "[3/3] staging (1.2 s) FAILED: configured Kubernetes cluster is unreachable: connection refused"
    )
    verified = StackResult("v", "verify", targets={"monitoring/felix": {"up": 2, "expected": 2}}, seconds=0.5)
    assert finished_line(verified, 1, 1) == "[1/1] v (0.5 s) targets up: monitoring/felix 2/2"


def test_the_live_count():
    assert live_count("preview", 3, 1, ["a", "b", "c", "d", "e", "f"], 9, 12.4) == (
        "fleet preview: 3/9 done, 1 failed, 6 running (a, b, c, d and 2 more) 12 s"
    )
    assert live_count("drift", 2, 0, [], 2, 3.0) == "fleet drift: 2/2 done 3 s"


def test_the_json_document_carries_every_stack_and_the_exit_status():
    summary = document("drift", [CLEAN, DRIFTED], parallel=3, seconds=7.04, expect_no_changes=True)
    assert json.loads(json.dumps(summary)) == summary
    assert {key: summary[key] for key in ("action", "parallel", "seconds", "expect_no_changes", "exit_status")} == {
        "action": "drift",
        "parallel": 3,
        "seconds": 7.0,
        "expect_no_changes": True,
        "exit_status": 2,
    }
    assert [s["stack"] for s in summary["stacks"]] == ["prod-eu-1", "prod-us-1"]
    assert summary["stacks"][1]["drift"][1] == {"resource": "PodMonitor monitoring/felix", "op": "delete", "fields": []}


def test_the_markdown_summary_has_the_columns_of_its_action_and_escapes_cells():
    from fleet.report import markdown

    piped = StackResult("a|b", "drift", error="first line | with a pipe\nsecond")
    text = markdown("drift", [CLEAN, DRIFTED, piped], 7.4)
    assert text.splitlines() == [
        "### `make fleet ACTION=drift`: 3 stacks, 1 drifted, 1 failed (7 s)",
        "",
        "| Stack | Cluster | Calico | calicoctl | Drift | Error |",
        "|---|---|---|---|---|---|",
        "| prod-eu-1 | https://10.0.0.1:6443 | v3.31.0 | v3.31.0 | none | - |",
        "| prod-us-1 | https://10.0.0.2:6443 | v3.30.2 | v3.31.0 | FelixConfiguration default: "
        "spec.prometheusMetricsEnabled; PodMonitor monitoring/felix deleted | - |",
        "| a\\|b | ? | ? | ? | - | first line \\| with a pipe |",
    ]
    preview = markdown(
        "preview", [StackResult("p", "preview", changes={"create": 3}, restarts=["DaemonSet k/calico-node"])], 1
    )
    assert preview.splitlines()[2:] == [
        "| Stack | Cluster | Calico | calicoctl | Changes | Pods restarted | Error |",
        "|---|---|---|---|---|---|---|",
        "| p | ? | ? | ? | 3 create | calico-node | - |",
    ]
