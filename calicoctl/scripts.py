"""Pure builders of the shell scripts that patch a Calico resource with calicoctl (renderYamlTo).

They keep the record the calicoctl provider keeps (calicoctl/provider.py): the apply script
records the current values of the fields it changes in an annotation on the resource itself,
in the same calicoctl patch that applies the settings, reads the resource back and checks it;
if the check fails it puts the old values back before failing, so nothing is left
half-applied. The restore script reads that annotation, puts the values back and removes it.

Every value a user controls reaches the shell either quoted with ``shlex.quote``
or through an environment variable, so nothing in the stack config is ever run.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calicoctl.helper import patch_json
from calicoctl.provider import release_of
from configuration import CalicoctlSettings, EtcdDatastore, KubernetesDatastore, Secret

HELPER_SOURCE = (Path(__file__).parent / "helper.py").read_text(encoding="utf-8")
_HEREDOC_END = "CALICO_MONITORING_HELPER_END"
assert _HEREDOC_END not in HELPER_SOURCE.splitlines()

# Names calicoctl itself understands, plus one of ours for kubeconfig text.
DATASTORE_VARIABLES = (
    "DATASTORE_TYPE",
    "KUBECONFIG",
    "K8S_CURRENT_CONTEXT",
    "CALICO_MONITORING_KUBECONFIG_CONTENT",
    "ETCD_ENDPOINTS",
    "ETCD_KEY_FILE",
    "ETCD_CERT_FILE",
    "ETCD_CA_CERT_FILE",
    "ETCD_KEY",
    "ETCD_CERT",
    "ETCD_CA_CERT",
    "ETCD_USERNAME",
    "ETCD_PASSWORD",
)


@dataclass(frozen=True)
class PatchScripts:
    apply: str
    restore: str


def datastore_environment(datastore: KubernetesDatastore | EtcdDatastore) -> dict[str, str | Secret]:
    """Environment for the scripts; every name we own is set, empty when unused.

    Setting all of them keeps calicoctl settings that happen to be exported in the
    shell that runs `pulumi up` out of the run. KUBECONFIG is the one exception: with
    no kubeconfig configured it is inherited, as the Kubernetes provider does.
    """
    values: dict[str, str | Secret | None] = {"DATASTORE_TYPE": datastore.type}
    if isinstance(datastore, KubernetesDatastore):
        values |= {
            "KUBECONFIG": datastore.kubeconfig_path,
            "K8S_CURRENT_CONTEXT": datastore.context,
            "CALICO_MONITORING_KUBECONFIG_CONTENT": datastore.kubeconfig_content,
        }
    else:
        values |= {
            "ETCD_ENDPOINTS": ",".join(datastore.endpoints),
            "ETCD_KEY_FILE": datastore.key_file,
            "ETCD_CERT_FILE": datastore.cert_file,
            "ETCD_CA_CERT_FILE": datastore.ca_cert_file,
            "ETCD_KEY": datastore.key,
            "ETCD_CERT": datastore.cert,
            "ETCD_CA_CERT": datastore.ca_cert,
            "ETCD_USERNAME": datastore.username,
            "ETCD_PASSWORD": datastore.password,
        }
    inherit = {"KUBECONFIG"} if isinstance(datastore, KubernetesDatastore) and values["KUBECONFIG"] is None else set()
    return {
        name: ("" if values.get(name) is None else values[name])
        for name in sorted(DATASTORE_VARIABLES)
        if name not in inherit
    }


def _release_check(calicoctl: CalicoctlSettings) -> str:
    """With calicoctl.version set, stop unless calicoctl is of that release (compared as calicoctl compares itself
    with the cluster: the part before any '-'), as the provider does."""
    if calicoctl.version is None:
        return ""
    executable = shlex.quote(calicoctl.path)
    release = release_of(calicoctl.version)
    return f"""\
found=$({executable} version --client 2>/dev/null | sed -n 's/^Client Version:[[:space:]]*//p')
case "${{found#v}}" in
  {release} | {release}-*) ;;
  *)
    echo "calico-monitoring: calicoctl at $(command -v {executable}) is ${{found:-of a release it does not print}}," \
      'but calico-monitoring:calicoctl.version is {calicoctl.version}' >&2
    exit 1
    ;;
esac
"""


def _prologue(title: str, calicoctl: CalicoctlSettings) -> str:
    executable = shlex.quote(calicoctl.path)
    extra = " --allow-version-mismatch" if calicoctl.allow_version_mismatch else ""
    return f"""\
# calico-monitoring: {title}
set -eu
umask 077
if ! command -v python3 >/dev/null 2>&1; then
  echo 'calico-monitoring: python3 is needed on the machine that runs pulumi' >&2
  exit 127
fi
if ! command -v {executable} >/dev/null 2>&1; then
  echo 'calico-monitoring: calicoctl not found: '{executable}' (set calico-monitoring:calicoctl.path)' >&2
  exit 127
fi
{_release_check(calicoctl)}work=$(mktemp -d "${{TMPDIR:-/tmp}}/calico-monitoring.XXXXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
cat >"$work/helper.py" <<'{_HEREDOC_END}'
{HELPER_SOURCE.rstrip()}
{_HEREDOC_END}
helper() {{ python3 "$work/helper.py" "$@"; }}
run_calicoctl() {{ {executable} "$@" --config "$work/calicoctl.cfg"{extra}; }}
helper write-config "$work"
"""


def calicoctl_patch_scripts(kind: str, name: str, patch: dict[str, Any], calicoctl: CalicoctlSettings) -> PatchScripts:
    """Apply and restore scripts that apply ``patch`` to ``kind``/``name`` and undo it exactly."""
    target = f"{kind} {name}"
    quoted_patch = shlex.quote(patch_json(patch))
    apply = (
        _prologue(f"patch {target} (generated)", calicoctl)
        + f"""\
patch={quoted_patch}
get_resource() {{ run_calicoctl get {target} -o json >"$1" || {{ cat "$1" >&2; return 1; }}; }}
# Record the current values of the fields the patch sets on the resource itself, in the same patch.
get_resource "$work/before.json"
helper recording-patch "$work/before.json" "$patch" >"$work/change.json"
helper rollback-patch "$work/before.json" "$patch" >"$work/restore.json"
run_calicoctl patch {target} --patch "$(cat "$work/change.json")" >&2
# Read it back; if the patch did not take, put the old values back before failing.
if get_resource "$work/after.json" \\
  && helper verify "$work/after.json" "$patch" >"$work/applied.json"; then
  cat "$work/applied.json"
else
  echo 'calico-monitoring: {target} does not show the patch; restoring its previous values' >&2
  run_calicoctl patch {target} --patch "$(cat "$work/restore.json")" >&2 \\
    || echo 'calico-monitoring: restoring failed; apply this patch by hand:' "$(cat "$work/restore.json")" >&2
  exit 1
fi
"""
    )
    restore = (
        _prologue(f"restore {target} (generated)", calicoctl)
        + f"""\
if ! run_calicoctl get {target} -o json >"$work/current.json" 2>"$work/current.err"; then
  if grep -q 'does not exist' "$work/current.json" "$work/current.err"; then
    echo 'calico-monitoring: {target} does not exist: nothing to restore' >&2
    exit 0
  fi
  cat "$work/current.json" "$work/current.err" >&2
  exit 1
fi
helper recorded-restore "$work/current.json" >"$work/restore.json"
if [ -s "$work/restore.json" ]; then
  run_calicoctl patch {target} --patch "$(cat "$work/restore.json")" >&2
fi
"""
    )
    return PatchScripts(apply=apply, restore=restore)
