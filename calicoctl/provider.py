"""A Calico resource patched with calicoctl, as a Pulumi dynamic resource.

The provider runs in the Python SDK's dynamic-provider process on the machine that
runs `pulumi`, and calls calicoctl there:

- create/update record the values the patch replaces in an annotation on the patched
  resource itself (``ORIGINALS_ANNOTATION``), in the same calicoctl patch that applies
  it, then read the resource back and verify it. A run interrupted at any point never
  loses the originals: the next run finds the annotation and keeps it. The scripts
  renderYamlTo writes keep the same record (calicoctl/helper.py holds the protocol).
- delete puts the recorded values back (fields that were unset are removed again)
  and drops the annotation; a resource that no longer exists is left alone.
- diff compares the inputs and also reads the live resource, so a hand edit that
  turned the patched fields back (drift) shows as an update and is repaired. A preview
  whose read fails (calicoctl missing or of another release, the datastore unreachable)
  fails with the reason and what to do, unless calicoctl.driftCheck is "warn" or
  PULUMI_K8S_DELETE_UNREACHABLE is set: then it warns and shows no change.
- A connection change (credentials, kubeconfig, endpoints) is an update that
  patches through the new connection: nothing is restored in between.

Secrets (inline PEM, kubeconfig text, etcd password) only ever reach calicoctl
through memory files (memfd) that vanish with the processes, even on SIGKILL; on
systems without memfd a private temporary folder removed on exit is used instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from calicoctl.helper import (
    MISSING,
    calicoctl_config,
    leaves,
    lookup,
    nest,
    patch_json,
    recorded_originals,
    recording_patch,
    restore_patch,
)

INPUT_KEYS = (
    "kind",
    "resourceName",
    "patch",
    "calicoctl",
    "connection",
    "renderTo",
    "stem",
    "applyScript",
    "restoreScript",
)
DEFAULT_TIMEOUT_SECONDS = 120
DRIFT_CHECK_DEFAULT = "require"
# calicoctl settings that only decide what a preview does with a failed read: left out when inputs are
# compared, since an update would skip the read they are about (and apply nothing different).
PREVIEW_ONLY_SETTINGS = ("driftCheck",)
DATASTORE_REMEDY = (
    "check the connection calicoctl uses (calico-monitoring:datastore: the etcd endpoints and client credentials, "
    "or the kubeconfig and context of the Kubernetes datastore) and that this machine reaches the datastore "
    "(a private API server or etcd needs a self-hosted runner in CI)"
)


class CalicoctlError(Exception):
    """calicoctl could not do what was asked (calicoctl's own message, or ours when it did not run or answer)."""

    def remedy(self) -> str:
        """What to do about it, as a failed drift check says."""
        if VERSION_MISMATCH in str(self):
            return (
                "calicoctl and the cluster's Calico are of different releases: install the calicoctl of the "
                "cluster's release (set calico-monitoring:calicoctl.version to it; the pull-request workflow installs "
                "that one), or set calico-monitoring:calicoctl.allowVersionMismatch to true"
            )
        return DATASTORE_REMEDY


class CalicoctlMissing(CalicoctlError):
    def remedy(self) -> str:
        return (
            "install calicoctl of the cluster's Calico release on the machine that runs pulumi (the pull-request "
            "workflow installs calico-monitoring:calicoctl.version), or set calico-monitoring:calicoctl.path to it"
        )


class CalicoctlTimeout(CalicoctlError):
    def remedy(self) -> str:
        return (
            "calicoctl keeps retrying a datastore it cannot reach: "
            + DATASTORE_REMEDY
            + "; or raise calico-monitoring:calicoctl.timeoutSeconds"
        )


class CalicoctlOtherRelease(CalicoctlError):
    def remedy(self) -> str:
        return (
            "put calicoctl of the release calico-monitoring:calicoctl.version names on the machine that runs pulumi "
            "(or calico-monitoring:calicoctl.path), or set calicoctl.version to the release the cluster runs"
        )


# How calicoctl's own version check (client against the cluster's ClusterInformation) reports a mismatch, and
# the hint it adds to any failure of that check, a datastore it cannot read included.
VERSION_MISMATCH = "version mismatch.\nClient Version:"
MISMATCH_HINT = "\nUse --allow-version-mismatch to override"
CLIENT_VERSION = re.compile(r"^Client Version:[ \t]*(\S+)[ \t]*$", re.MULTILINE)


def release_of(version: str) -> str:
    """The part of a version calicoctl compares with the cluster's: v3.31.0-0.dev-12 -> 3.31.0."""
    return version.strip().removeprefix("v").split("-")[0]


def dotted(path: tuple[str, ...]) -> str:
    return ".".join(path)


class PrivateFiles:
    """Files only calicoctl can read while it runs: memfds where the kernel has them."""

    def __init__(self) -> None:
        self.fds: list[int] = []
        self._folder: tempfile.TemporaryDirectory | None = None

    def add(self, name: str, text: str) -> str:
        data = text.encode()
        if hasattr(os, "memfd_create"):
            fd = os.memfd_create(name, 0)
            os.write(fd, data)
            self.fds.append(fd)
            # calicoctl opens its own inherited descriptor: the same number in its process.
            return f"/proc/self/fd/{fd}"
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="calico-monitoring.")
        path = os.path.join(self._folder.name, name)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        return path

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None


class Calicoctl:
    """calicoctl with a generated --config, so no ambient calicoctl.cfg or CALICO_* variable is used."""

    def __init__(self, props: dict[str, Any]) -> None:
        settings = props.get("calicoctl") or {}
        self.path = settings.get("path") or "calicoctl"
        self.allow_version_mismatch = bool(settings.get("allowVersionMismatch"))
        self.timeout = int(settings.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS)
        self.version: str | None = settings.get("version")
        self.drift_check = settings.get("driftCheck") or DRIFT_CHECK_DEFAULT
        self._release_checked = False
        self.connection = {k: str(v) for k, v in (props.get("connection") or {}).items() if v is not None}
        self.kind = props["kind"]
        self.name = props["resourceName"]

    @contextmanager
    def _config(self) -> Iterator[tuple[str, list[int]]]:
        files = PrivateFiles()
        try:
            # KUBECONFIG is left out of the connection when the stack names none: the ambient one applies.
            values = {"KUBECONFIG": os.environ.get("KUBECONFIG", ""), **self.connection}
            try:
                config = calicoctl_config(values, files.add)
            except ValueError as error:
                raise CalicoctlError(str(error)) from None
            path = files.add("calicoctl.cfg", patch_json(config))
            yield path, list(files.fds)
        finally:
            files.close()

    def executable(self) -> str:
        """calicoctl's path; of the release calicoctl.version names, when it names one."""
        executable = shutil.which(self.path)
        if executable is None:
            raise CalicoctlMissing(f"calicoctl not found: {self.path!r} (set calico-monitoring:calicoctl.path)")
        if self.version is not None and not self._release_checked:
            found = self._client_version(executable)
            if found is None or release_of(found) != release_of(self.version):
                raise CalicoctlOtherRelease(
                    f"calicoctl at {executable} is {found or 'of a release it does not print'}, but "
                    f"calico-monitoring:calicoctl.version is {self.version}"
                )
            self._release_checked = True
        return executable

    def _client_version(self, executable: str) -> str | None:
        """What `calicoctl version --client` prints as its Client Version (it reads no datastore for that)."""
        try:
            completed = subprocess.run(
                [executable, "version", "--client"], capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise CalicoctlTimeout(
                f"calicoctl version --client did not answer within {self.timeout} s"
                " (calico-monitoring:calicoctl.timeoutSeconds)"
            ) from None
        match = CLIENT_VERSION.search(completed.stdout)
        return match.group(1) if completed.returncode == 0 and match else None

    def run(self, *args: str) -> str:
        executable = self.executable()
        extra = ["--allow-version-mismatch"] if self.allow_version_mismatch else []
        with self._config() as (config, fds):
            try:
                completed = subprocess.run(
                    [executable, *args, "--config", config, *extra],
                    capture_output=True,
                    text=True,
                    pass_fds=fds,
                    timeout=self.timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise CalicoctlTimeout(
                    f"calicoctl {args[0]} {self.kind} {self.name} did not answer within {self.timeout} s"
                    " (calico-monitoring:calicoctl.timeoutSeconds)"
                ) from None
        if completed.returncode != 0:
            message = (completed.stderr.strip() + "\n" + completed.stdout.strip()).strip()
            raise CalicoctlError(f"calicoctl {args[0]} {self.kind} {self.name} failed: {message}")
        return completed.stdout

    def get(self) -> dict[str, Any] | None:
        """The live resource, or None when it does not exist."""
        try:
            output = self.run("get", self.kind, self.name, "-o", "json")
        except CalicoctlError as error:
            if "does not exist" in str(error):
                return None
            raise
        document = json.loads(output)
        items = document.get("items") if isinstance(document, dict) else None
        if isinstance(items, list) and "spec" not in document:
            return items[0] if items else None
        return document

    def patch(self, patch: dict[str, Any]) -> None:
        self.run("patch", self.kind, self.name, "--patch", patch_json(patch))


def leaf_paths(patch: dict[str, Any]) -> list[tuple[str, ...]]:
    return [path for path, _ in leaves(patch)]


def drifted_fields(live: dict[str, Any], patch: dict[str, Any]) -> list[str]:
    return [dotted(path) for path, value in leaves(patch) if lookup(live, path) != value]


def value_at(document: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path``, None where the field is unset (null removes it in a merge patch)."""
    found = lookup(document, path)
    return None if found is MISSING else found


# How the API server's refusals reach calicoctl's output: RBAC's Forbidden (which names the user,
# verb and resource) and credentials it does not accept.
REFUSALS = (" is forbidden: User ", "connection is unauthorized: Unauthorized")


def refused(error: CalicoctlError) -> bool:
    return any(refusal in str(error) for refusal in REFUSALS)


def comparable(key: str, value: Any) -> str:
    if key == "calicoctl" and isinstance(value, dict):
        value = {name: item for name, item in value.items() if name not in PREVIEW_ONLY_SETTINGS}
    return patch_json(value)


def changed_inputs(olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    """The inputs whose change is an update."""
    return [key for key in INPUT_KEYS if comparable(key, olds.get(key)) != comparable(key, news.get(key))]


def failed_drift_check(error: CalicoctlError) -> CalicoctlError:
    """Why a preview stops rather than pass without its drift check, and the ways on."""
    reason = str(error) if VERSION_MISMATCH in str(error) else str(error).replace(MISMATCH_HINT, "")
    return CalicoctlError(
        f"could not read the live resource to check for drift: {reason}\n"
        f"{error.remedy()}\n"
        "without its drift check a preview fails; to let it pass with a warning, set calico-monitoring:calicoctl."
        "driftCheck to warn (or PULUMI_K8S_DELETE_UNREACHABLE=true for a cluster that is gone)"
    )


class CalicoctlPatchProvider(dynamic.ResourceProvider):
    """CRUD of one calicoctl patch. Stateless: everything comes from the resource's properties."""

    def _live(self, calicoctl: Calicoctl) -> dict[str, Any]:
        live = calicoctl.get()
        if live is None:
            raise CalicoctlError(
                f"{calicoctl.kind} {calicoctl.name} does not exist in the datastore; Calico creates it when its "
                "components first start (calico-node for FelixConfiguration, calico-kube-controllers for "
                "KubeControllersConfiguration): check the datastore settings and that Calico runs"
            )
        return live

    def _apply(self, props: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
        calicoctl = Calicoctl(props)
        patch = props["patch"]
        live = self._live(calicoctl)
        change, originals = recording_patch(live, patch, (previous or {}).get("originals"))
        calicoctl.patch(change)
        after = calicoctl.get() or {}
        wrong = drifted_fields(after, patch)
        if wrong:
            rollback = restore_patch(originals)
            try:
                calicoctl.patch(rollback)
            except CalicoctlError as error:
                raise CalicoctlError(
                    f"after the patch {', '.join(wrong)} did not take, and restoring failed ({error}); "
                    f"apply this patch by hand: {patch_json(rollback)}"
                ) from None
            raise CalicoctlError(
                f"after the patch, {calicoctl.kind} {calicoctl.name} does not show {', '.join(wrong)}; "
                "its previous values were put back"
            )
        applied = nest((path, value_at(after, path)) for path in leaf_paths(patch))
        return {**{k: props.get(k) for k in INPUT_KEYS}, "applied": applied, "originals": originals}

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        resource_id = f"{props['kind']}/{props['resourceName']}"
        if props.get("renderTo"):
            return dynamic.CreateResult(resource_id, {**props, **render_scripts(props)})
        return dynamic.CreateResult(resource_id, self._apply(props, None))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        if news.get("renderTo"):
            remove_rendered(olds)
            return dynamic.UpdateResult({**news, **render_scripts(news)})
        if olds.get("renderTo"):
            remove_rendered(olds)
            return dynamic.UpdateResult(self._apply(news, None))
        return dynamic.UpdateResult(self._apply(news, olds))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        replaces = [key for key in ("kind", "resourceName") if olds.get(key) != news.get(key)]
        if replaces:
            return dynamic.DiffResult(changes=True, replaces=replaces, delete_before_replace=True)
        changed = bool(changed_inputs(olds, news))
        if news.get("renderTo"):
            return dynamic.DiffResult(changes=changed)
        # With unchanged inputs the live resource decides (a hand edit since the last run is drift). It is read
        # through the new inputs either way: a preview fails when the update it shows could not run calicoctl.
        calicoctl = Calicoctl(news)
        try:
            live = calicoctl.get()
        except CalicoctlError as error:
            if refused(error):
                # A missing permission is no passing trouble: a preview would go green without its drift check.
                # calicoctl's hint about its version check does not apply to a refusal.
                reason = str(error).replace(MISMATCH_HINT, "")
                raise CalicoctlError(
                    f"could not read the live resource to check for drift: {reason}\n"
                    "the identity that runs pulumi lacks a permission: see rbac/ (README: Least-privilege RBAC)"
                ) from None
            if calicoctl.drift_check != "warn" and not delete_unreachable():
                raise failed_drift_check(error) from None
            pulumi.log.warn(f"could not read the live resource to check for drift: {error}")
            return dynamic.DiffResult(changes=changed)
        return dynamic.DiffResult(changes=changed or live is None or bool(drifted_fields(live, news["patch"])))

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        if props.get("renderTo"):
            return dynamic.ReadResult(id_, props)
        calicoctl = Calicoctl(props)
        reached, live = _live_unless_gone(calicoctl, props, "this step leaves the stack's state and ")
        if not reached:  # as the kubernetes provider does on a refresh with the variable
            return dynamic.ReadResult("", {})
        if live is None:
            return dynamic.ReadResult(id_, props)
        applied = nest((path, value_at(live, path)) for path in leaf_paths(props["patch"]))
        return dynamic.ReadResult(id_, {**props, "applied": applied})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        if props.get("renderTo"):
            remove_rendered(props)
            return
        calicoctl = Calicoctl(props)
        reached, live = _live_unless_gone(calicoctl, props)
        if not reached or live is None:
            return
        originals = recorded_originals(live)
        if originals is None:
            originals = props.get("originals") or {}
        calicoctl.patch(restore_patch(originals))


def _live_unless_gone(calicoctl: Calicoctl, props: dict[str, Any], consequence: str = "") -> tuple[bool, Any]:
    """(True, the live resource or None); (False, None) when calicoctl cannot read it and the operator said
    the cluster is gone with PULUMI_K8S_DELETE_UNREACHABLE, the kubernetes provider's own escape hatch."""
    try:
        return True, calicoctl.get()
    except CalicoctlError as error:
        if not delete_unreachable():
            raise
        pulumi.log.warn(
            f"{error}; PULUMI_K8S_DELETE_UNREACHABLE is set, so {consequence}{calicoctl.kind} {calicoctl.name} "
            f"is left as it is (its values before this program: {patch_json(props.get('originals') or {})})"
        )
        return False, None


def delete_unreachable() -> bool:
    """Whether the operator said the cluster is gone (PULUMI_K8S_DELETE_UNREACHABLE, the kubernetes provider's)."""
    return os.environ.get("PULUMI_K8S_DELETE_UNREACHABLE", "").strip().lower() in ("1", "true", "yes")


def rendered_paths(props: dict[str, Any]) -> tuple[Path, Path]:
    folder = Path(props["renderTo"]) / "calicoctl"
    stem = props["stem"]
    return folder / f"{stem}.apply.sh", folder / f"{stem}.restore.sh"


def render_scripts(props: dict[str, Any]) -> dict[str, Any]:
    """renderYamlTo: write the standalone apply/restore scripts instead of calling calicoctl."""
    apply_path, restore_path = rendered_paths(props)
    apply_path.parent.mkdir(parents=True, exist_ok=True)
    for path, text in ((apply_path, props["applyScript"]), (restore_path, props["restoreScript"])):
        path.write_text(text)
        path.chmod(0o755)
    return {"applied": None, "originals": None}


def remove_rendered(props: dict[str, Any]) -> None:
    if props.get("renderTo") and props.get("stem"):
        for path in rendered_paths(props):
            path.unlink(missing_ok=True)


CALICOCTL_PATCH_TYPE = "pulumi-python:dynamic/calico-monitoring:CalicoctlPatch"


class CalicoctlPatch(dynamic.Resource, module="calico-monitoring", name="CalicoctlPatch"):
    """`calicoctl patch <kind> <name>` applied on create/update and undone on delete."""

    applied: pulumi.Output[Any]
    originals: pulumi.Output[Any]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(
            CalicoctlPatchProvider(),
            name,
            {**props, "applied": None, "originals": None},
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["connection"])),
        )
