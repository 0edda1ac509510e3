"""The component package (package/) used by other Pulumi programs, on the real CLI, API server and calicoctl.

A Pulumi YAML, a Python and a TypeScript program, each with its own Kubernetes provider for the test
cluster, create CalicoMonitoring from the package by path: `up` turns Felix's metrics on,
`preview --expect-no-changes` finds nothing to do, `destroy` puts FelixConfiguration and
KubeControllersConfiguration back exactly. The calicoctl patches are the package's own resource
type, served by its plugin in its own virtualenv: no consumer's PATH has a python3 with
Pulumi in it.

What stands in for `pulumi package add` (see docs/package.md, "Use it from another Pulumi program"):
pulumi-yaml v1.25.0 has no Link, so the test writes the YAML project's `packages:` entry; the
Python language host cannot be built here, so the Python SDK comes from our sdkgen
(tests/e2e/sdkgen, built by build-binaries.sh) and is pip-installed into the consumer's venv;
the Node.js SDK comes from the same tool and is npm-installed (the TypeScript scenario is skipped
without node and npm).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.e2e.cluster import cache_root, versions
from tests.e2e.conftest import ROOT, Stack, prepare_stack
from tests.e2e.test_manifest_install import spec_of

pytestmark = pytest.mark.e2e

# What the plugin imports: the program's packages, and the package folder beside them.
PACKAGE_FILES = (
    "requirements.txt",
    "package",
    *tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"],
)
SECRET_SIG = "4dabf18193072939515e22adb298388d"


def sdkgen() -> Path:
    key = hashlib.sha256((ROOT / "tests/e2e/sdkgen/main.go").read_bytes()).hexdigest()[:12]
    path = cache_root() / f"sdkgen-{versions()['PULUMI_VERSION']}-{key}" / "bin" / "sdkgen"
    if not path.exists():
        pytest.fail(f"e2e binaries missing (run `make e2e-bin`): {path}")
    return path


def pins(*names: str) -> list[str]:
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    return [line for line in lines if line.split("==")[0] in names]


def make_venv(folder: Path, *requirements: str) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, capture_output=True)
    subprocess.run(
        [str(folder / "bin/pip"), "install", "--quiet", "--disable-pip-version-check", *requirements],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return folder


@pytest.fixture(scope="session")
def package_venv(session_dir) -> Path:
    """The plugin's virtualenv, from package/requirements.txt (the program's pins), once per session."""
    return make_venv(session_dir / "package-venv", "-r", str(ROOT / "package/requirements.txt"))


def copy_package(folder: Path, venv: Path) -> Path:
    """A fresh copy per test: the YAML host caches the schema beside the package folder by its time stamp."""
    folder.mkdir(parents=True)
    for item in PACKAGE_FILES:
        if (ROOT / item).is_dir():
            shutil.copytree(ROOT / item, folder / item, ignore=shutil.ignore_patterns("__pycache__", ".venv"))
        else:
            shutil.copy2(ROOT / item, folder / item)
    (folder / "package/.venv").symlink_to(venv)
    return folder / "package"


def without_python(env: dict[str, str]) -> dict[str, str]:
    """The stack's environment with no virtualenv on PATH: only the system's python3, without Pulumi."""
    entries = [entry for entry in env["PATH"].split(os.pathsep) if not (Path(entry).parent / "pyvenv.cfg").exists()]
    return {**env, "PATH": os.pathsep.join(entries)}


@dataclasses.dataclass
class CliStack(Stack):
    """A consumer whose language host the CLI runs (YAML), or one that ``host`` serves (pulumi_host.py or .js)."""

    host: tuple[str, ...] = ()

    def _program_command(self, args: tuple[str, ...]) -> list[str]:
        if not self.host:
            return [str(self.binaries.pulumi), *args]
        return [*self.host, str(self.project), str(self.binaries.pulumi), *args]


def consumer(binaries, pulumi_home, folder: Path, cluster, project: dict, program: dict[str, str], request, host=()):
    """The consumer's project (Pulumi.yaml and ``program``'s files) with a stack of its own."""
    source = folder / "source"
    source.mkdir(parents=True)
    (source / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    for name, text in program.items():
        (source / name).write_text(text)
    files = ["Pulumi.yaml", *program]
    stack = prepare_stack(
        binaries, pulumi_home, folder, cluster, {}, scenario=request.node.name, source=source, files=tuple(files)
    )
    fields = {field.name: getattr(stack, field.name) for field in dataclasses.fields(stack)}
    stack = CliStack(**{**fields, "env": without_python(stack.env)}, host=tuple(map(str, host)))
    request.node.stash_stack = stack
    return stack


def exercise(stack: CliStack, cluster, felix_port: int) -> dict[str, float]:
    """up, the checks, preview --expect-no-changes, destroy and the restore checks; the durations."""
    felix_before = spec_of(cluster, "felixConfiguration")
    controllers_before = spec_of(cluster, "kubeControllersConfiguration")
    took = {}
    started = time.monotonic()
    stack.up()
    took["up"] = time.monotonic() - started

    felix = cluster.calico_resource("felixConfiguration")["spec"]
    assert felix["prometheusMetricsEnabled"] is True and felix["prometheusMetricsPort"] == felix_port
    outputs = stack.outputs()
    assert outputs["felixMetricsEnabled"] is True and outputs["felixMetricsPort"] == felix_port
    assert outputs["scrapeJobs"]["felix"] == "monitoring/felix"
    assert cluster.get("prometheusrule", "calico", "monitoring") is not None
    # The consumer's provider did the Kubernetes work, never the ambient (decoy) context.
    assert cluster.get("namespace", "monitoring", context="decoy") is None

    state = json.loads(stack.export())["deployment"]["resources"]
    patches = [r for r in state if r["type"] == "calico-monitoring:index:CalicoctlPatch"]
    assert {r["urn"].rsplit("::", 1)[1] for r in patches} == {"calico-felix-calicoctl-patch"} | (
        {"calico-kube-controllers-calicoctl-patch"} if outputs.get("kubeControllersMetricsPort") else set()
    )
    assert all(r["provider"].split("::")[2] == "pulumi:providers:calico-monitoring" for r in patches)
    assert all(SECRET_SIG in r["outputs"]["connection"] for r in patches), "connection not kept as a secret"
    assert not [r for r in state if "pulumi-python" in r["type"]], "a dynamic resource was created"
    kubernetes = [r for r in state if r["type"].startswith("kubernetes:") and r.get("custom")]
    assert kubernetes and all("::pulumi:providers:kubernetes::k8s::" in r["provider"] for r in kubernetes)
    # The preflight lookups ran with the consumer's provider, from the package's own chart.
    assert [r["type"] for r in state if r["type"] == "kubernetes:helm.sh/v4:Chart"] == ["kubernetes:helm.sh/v4:Chart"]
    # With a provider handed in, the provider gives the patches' fields back itself (docs/behaviour.md).
    assert not [r for r in state if r["type"] == "calico-monitoring:index:PatchRelease"]

    started = time.monotonic()
    stack.preview("--expect-no-changes")
    took["preview"] = time.monotonic() - started

    started = time.monotonic()
    stack.destroy()
    took["destroy"] = time.monotonic() - started
    assert spec_of(cluster, "felixConfiguration") == felix_before
    assert spec_of(cluster, "kubeControllersConfiguration") == controllers_before
    assert cluster.get("prometheusrule", "calico", "monitoring") is None
    return took


def test_yaml_program_uses_the_package(make_cluster, binaries, pulumi_home, package_venv, tmp_path, request):
    cluster = make_cluster()
    package = copy_package(tmp_path / "calico-monitoring", package_venv)
    # What `pulumi package add` would write had pulumi-yaml v1.25.0 a Link (the name, not the path, at that).
    project = {
        "name": "yaml-consumer",
        "runtime": "yaml",
        "packages": {"calico-monitoring": str(package)},
        "resources": {
            "k8s": {
                "type": "pulumi:providers:kubernetes",
                "properties": {"kubeconfig": str(cluster.kubeconfig), "context": "e2e"},
            },
            "calico": {
                "type": "calico-monitoring:CalicoMonitoring",
                "properties": {
                    "datastore": {"type": "kubernetes", "kubeconfig": str(cluster.kubeconfig), "context": "e2e"},
                    "felix": {"metricsPort": 9092},
                    "podMonitor": {"labels": {"release": "kube-prometheus-stack"}},
                },
                "options": {"providers": ["${k8s}"]},
            },
        },
        "outputs": {
            "felixMetricsEnabled": "${calico.felixMetricsEnabled}",
            "felixMetricsPort": "${calico.felixMetricsPort}",
            "kubeControllersMetricsPort": "${calico.kubeControllersMetricsPort}",
            "scrapeJobs": "${calico.scrapeJobs}",
        },
    }
    stack = consumer(binaries, pulumi_home, tmp_path / "yaml", cluster, project, {}, request)

    took = exercise(stack, cluster, felix_port=9092)
    assert cluster.get("podmonitor", "felix", "monitoring") is None
    print(f"yaml consumer: {json.dumps({k: round(v, 1) for k, v in took.items()})}")


PYTHON_PROGRAM = """\
import pulumi
import pulumi_kubernetes as k8s

import pulumi_calico_monitoring as calico_monitoring

config = pulumi.Config()
kubeconfig = config.require("kubeconfig")
provider = k8s.Provider("k8s", kubeconfig=kubeconfig, context="e2e")
calico = calico_monitoring.CalicoMonitoring(
    "calico",
    datastore=calico_monitoring.DatastoreSettingsArgs(
        type=calico_monitoring.DatastoreType.KUBERNETES, kubeconfig=kubeconfig, context="e2e"
    ),
    felix=calico_monitoring.FelixSettingsArgs(metrics_port=9093, scrape=calico_monitoring.FelixScrape.SERVICE),
    kube_controllers=calico_monitoring.KubeControllersSettingsArgs(enabled=False),
    opts=pulumi.ResourceOptions(providers=[provider]),
)
pulumi.export("felixMetricsEnabled", calico.felix_metrics_enabled)
pulumi.export("felixMetricsPort", calico.felix_metrics_port)
pulumi.export("scrapeJobs", calico.scrape_jobs)
"""


@pytest.fixture(scope="session")
def package_schema(session_dir, binaries, pulumi_home, package_venv) -> Path:
    """The package's schema, as the CLI gets it from the plugin."""
    folder = session_dir / "package-schema"
    package = copy_package(folder / "calico-monitoring", package_venv)
    env = {**os.environ, "PULUMI_HOME": str(pulumi_home), "PULUMI_SKIP_UPDATE_CHECK": "true"}
    schema = subprocess.run(
        [str(binaries.pulumi), "package", "get-schema", str(package / "pulumi-resource-calico-monitoring")],
        env=env, cwd=folder, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    (folder / "schema.json").write_text(schema)
    return folder / "schema.json"


@pytest.fixture(scope="session")
def python_sdk_venv(session_dir, package_schema) -> Path:
    """The Python SDK generated from the schema, in a consumer venv with the program's Pulumi pins."""
    folder = session_dir / "python-sdk"
    subprocess.run([str(sdkgen()), str(package_schema), str(folder / "sdk")], check=True)
    return make_venv(folder / "venv", *pins("pulumi", "pulumi-kubernetes"), str(folder / "sdk"))


def test_python_program_uses_the_package(
    make_cluster, binaries, pulumi_home, package_venv, python_sdk_venv, tmp_path, request
):
    cluster = make_cluster()
    package = copy_package(tmp_path / "calico-monitoring", package_venv)
    project = {"name": "python-consumer", "runtime": "python", "packages": {"calico-monitoring": str(package)}}
    stack = consumer(
        binaries, pulumi_home, tmp_path / "python", cluster, project, {"__main__.py": PYTHON_PROGRAM}, request,
        host=(python_sdk_venv / "bin/python", ROOT / "tests/e2e/pulumi_host.py"),
    )  # fmt: skip
    stack.config_set("python-consumer:kubeconfig", str(cluster.kubeconfig))

    took = exercise(stack, cluster, felix_port=9093)
    assert cluster.get("servicemonitor", "felix", "monitoring") is None
    print(f"python consumer: {json.dumps({k: round(v, 1) for k, v in took.items()})}")


# @pulumi/pulumi 3.272.0 (the Python SDK's pin) is not on npm; 3.270.0 is the closest release before it.
NODE_DEPENDENCIES = {
    "@pulumi/pulumi": "3.270.0",
    "@pulumi/kubernetes": "4.25.0",
    "typescript": "5.9.3",
    "@types/node": "20.19.43",
}

TYPESCRIPT_PROGRAM = """\
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as calicoMonitoring from "@pulumi/calico-monitoring";

export = async () => {
    const kubeconfig = new pulumi.Config().require("kubeconfig");
    const provider = new k8s.Provider("k8s", { kubeconfig, context: "e2e" });
    const calico = new calicoMonitoring.CalicoMonitoring("calico", {
        datastore: { type: calicoMonitoring.DatastoreType.KUBERNETES, kubeconfig, context: "e2e" },
        felix: { metricsPort: 9094, scrape: calicoMonitoring.FelixScrape.SERVICE },
        kubeControllers: { enabled: false },
    }, { providers: [provider] });
    return {
        felixMetricsEnabled: calico.felixMetricsEnabled,
        felixMetricsPort: calico.felixMetricsPort,
        scrapeJobs: calico.scrapeJobs,
    };
};
"""


@pytest.fixture(scope="session")
def node_modules(session_dir, binaries, pulumi_home, package_schema) -> Path:
    """The Node.js SDK generated from the schema, installed with the Node SDK and TypeScript from npm."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("Node.js and npm are needed for the TypeScript consumer")
    folder = session_dir / "node-sdk"
    subprocess.run([str(sdkgen()), str(package_schema), str(folder / "sdk"), "nodejs"], check=True)
    deps = folder / "deps"
    deps.mkdir()
    manifest = {"name": "ts-consumer-deps", "private": True, "dependencies": {
        **NODE_DEPENDENCIES, "@pulumi/calico-monitoring": f"file:{folder / 'sdk'}"}}  # fmt: skip
    (deps / "package.json").write_text(json.dumps(manifest, indent=2))
    # --install-links: the SDK is copied in, so its postinstall (tsc) finds the dependencies beside it.
    # @pulumi/kubernetes' install script asks the CLI for the kubernetes plugin: the session home has it.
    env = {**os.environ, "PULUMI_HOME": str(pulumi_home), "PULUMI_SKIP_UPDATE_CHECK": "true",
           "PATH": os.pathsep.join([str(binaries.pulumi.parent), os.environ["PATH"]])}  # fmt: skip
    subprocess.run(
        ["npm", "install", "--install-links", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=deps, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return deps / "node_modules"


def test_typescript_program_uses_the_package(
    make_cluster, binaries, pulumi_home, package_venv, node_modules, tmp_path, request
):
    cluster = make_cluster()
    package = copy_package(tmp_path / "calico-monitoring", package_venv)
    project = {"name": "ts-consumer", "runtime": "nodejs", "packages": {"calico-monitoring": str(package)}}
    tsconfig = {"compilerOptions": {"outDir": "bin", "target": "es2020", "module": "commonjs", "strict": True,
                                    "esModuleInterop": True, "skipLibCheck": True}, "files": ["index.ts"]}  # fmt: skip
    files = {"index.ts": TYPESCRIPT_PROGRAM, "tsconfig.json": json.dumps(tsconfig), "package.json": "{}"}
    stack = consumer(
        binaries, pulumi_home, tmp_path / "ts", cluster, project, files, request,
        host=(shutil.which("node"), ROOT / "tests/e2e/pulumi_host.js"),
    )  # fmt: skip
    (stack.project / "node_modules").symlink_to(node_modules)
    subprocess.run(
        ["node", str(node_modules / "typescript/bin/tsc"), "-p", str(stack.project)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    stack.config_set("ts-consumer:kubeconfig", str(cluster.kubeconfig))

    took = exercise(stack, cluster, felix_port=9094)
    print(f"typescript consumer: {json.dumps({k: round(v, 1) for k, v in took.items()})}")


def test_a_yaml_program_without_a_provider_destroys_after_calico_node_was_deleted(
    make_cluster, binaries, pulumi_home, package_venv, tmp_path, request
):
    cluster = make_cluster()
    package = copy_package(tmp_path / "calico-monitoring", package_venv)
    # No provider handed in: the component makes its own from the ambient kubeconfig, and so do its PatchReleases.
    ambient = tmp_path / "ambient-kubeconfig"
    document = yaml.safe_load(cluster.kubeconfig.read_text())
    ambient.write_text(yaml.safe_dump({**document, "current-context": "e2e"}))
    project = {
        "name": "yaml-consumer",
        "runtime": "yaml",
        "packages": {"calico-monitoring": str(package)},
        "resources": {
            "calico": {
                "type": "calico-monitoring:CalicoMonitoring",
                "properties": {
                    "datastore": {"type": "kubernetes", "kubeconfig": str(cluster.kubeconfig), "context": "e2e"},
                    "kubeControllers": {"enabled": False},
                },
            },
        },
        "outputs": {"felixMetricsEnabled": "${calico.felixMetricsEnabled}"},
    }
    stack = consumer(binaries, pulumi_home, tmp_path / "yaml", cluster, project, {}, request)
    stack.env["KUBECONFIG"] = str(ambient)
    felix_before = spec_of(cluster, "felixConfiguration")
    stack.up()
    state = json.loads(stack.export())["deployment"]["resources"]
    [release] = [r for r in state if r["type"] == "calico-monitoring:index:PatchRelease"]
    assert release["provider"].split("::")[2] == "pulumi:providers:calico-monitoring"
    assert release["id"] == "DaemonSet kube-system/calico-node"
    cluster.kubectl("delete", "daemonset", "calico-node", "-n", "kube-system", "--wait=true")
    # The plugin's PatchRelease finds calico-node gone, so the provider's failing give-back never runs.
    stack.destroy()
    left = json.loads(stack.export())["deployment"].get("resources") or []
    assert [r["type"] for r in left if not r["type"].startswith("pulumi:")] == []
    assert cluster.get("daemonset", "calico-node", "kube-system") is None
    assert spec_of(cluster, "felixConfiguration") == felix_before
