"""Runs on the machine that runs `pulumi up`: imported by the calicoctl provider
(calicoctl/provider.py), runnable as `python -m calicoctl.helper`, and embedded verbatim in
the standalone scripts renderYamlTo writes (they run where this repository may not be).

The scripts call it with ``python3`` for the steps a POSIX shell cannot do safely:
writing calicoctl's connection config from the environment, and reading calicoctl's
JSON. It uses the standard library only and never prints a secret.

    write-config DIR                     DIR/calicoctl.cfg (+ PEM files) from the environment
    recording-patch BEFORE PATCH         PATCH, plus the record of the values it replaces in BEFORE
    rollback-patch BEFORE PATCH          the patch that puts those recorded values back
    verify AFTER PATCH                   check AFTER carries PATCH; print the applied values
    recorded-restore CURRENT             the patch that puts the values recorded on CURRENT back

The record is the annotation ORIGINALS_ANNOTATION on the patched resource itself, for the
calicoctl provider and the scripts alike: either one can undo what the other applied.
"""

import json
import os
import sys

MISSING = object()
PREFIX = "calico-monitoring: "
ORIGINALS_ANNOTATION = "calico-monitoring/original-values"


def fail(message, status=1):
    sys.stderr.write(PREFIX + message + "\n")
    sys.exit(status)


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def calicoctl_config(values, add_file):
    """calicoctl's CalicoAPIConfig from the DATASTORE_VARIABLES in ``values``.

    ``add_file(name, text)`` stores inline secret text (PEM, kubeconfig) somewhere private
    and returns the path calicoctl is to read it from. Raises ValueError on a bad value.
    """

    def value(name):
        # Empty counts as unset: the program sets every name it owns.
        return values.get(name) or None

    datastore = value("DATASTORE_TYPE")
    spec = {"datastoreType": datastore}
    if datastore == "kubernetes":
        kubeconfig = value("KUBECONFIG")
        content = value("CALICO_MONITORING_KUBECONFIG_CONTENT")
        if content is not None:
            kubeconfig = add_file("kubeconfig", content)
        elif kubeconfig is None:
            kubeconfig = os.path.join(os.path.expanduser("~"), ".kube", "config")
        spec["kubeconfig"] = kubeconfig
        if value("K8S_CURRENT_CONTEXT"):
            spec["k8sCurrentContext"] = value("K8S_CURRENT_CONTEXT")
    elif datastore == "etcdv3":
        spec["etcdEndpoints"] = value("ETCD_ENDPOINTS")
        if spec["etcdEndpoints"] is None:
            raise ValueError("ETCD_ENDPOINTS is empty")
        for file_var, inline_var, field, name in (
            ("ETCD_KEY_FILE", "ETCD_KEY", "etcdKeyFile", "etcd-key.pem"),
            ("ETCD_CERT_FILE", "ETCD_CERT", "etcdCertFile", "etcd-cert.pem"),
            ("ETCD_CA_CERT_FILE", "ETCD_CA_CERT", "etcdCACertFile", "etcd-ca.pem"),
        ):
            if value(inline_var) is not None:
                spec[field] = add_file(name, value(inline_var))
            elif value(file_var) is not None:
                spec[field] = value(file_var)
        if value("ETCD_USERNAME") is not None:
            spec["etcdUsername"] = value("ETCD_USERNAME")
            spec["etcdPassword"] = value("ETCD_PASSWORD") or ""
    else:
        raise ValueError(f"DATASTORE_TYPE must be kubernetes or etcdv3, got {json.dumps(datastore)}")
    return {"apiVersion": "projectcalico.org/v3", "kind": "CalicoAPIConfig", "metadata": {}, "spec": spec}


def write_config(directory):
    def add_file(name, text):
        path = os.path.join(directory, name)
        write_private(path, text)
        return path

    try:
        config = calicoctl_config(os.environ, add_file)
    except ValueError as error:
        fail(str(error))
    # JSON is YAML, and calicoctl reads either.
    write_private(os.path.join(directory, "calicoctl.cfg"), json.dumps(config, indent=2, sort_keys=True) + "\n")


def load_json(path, what):
    try:
        with open(path) as handle:
            document = json.load(handle)
    except (OSError, ValueError) as error:
        fail(f"could not read {what} as JSON: {error}")
    # Some calicoctl versions wrap a single named resource in a list.
    items = document.get("items") if isinstance(document, dict) else None
    if isinstance(items, list) and len(items) == 1 and "spec" not in document:
        return items[0]
    return document


def leaves(patch, path=()):
    """(path, value) for every non-object value in a merge patch."""
    for key in sorted(patch):
        value = patch[key]
        if isinstance(value, dict) and value:
            yield from leaves(value, (*path, key))
        else:
            yield (*path, key), value


def lookup(document, path):
    for key in path:
        if not isinstance(document, dict) or key not in document:
            return MISSING
        document = document[key]
    return document


def nest(pairs):
    result = {}
    for path, value in pairs:
        node = result
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return result


def merge(base, extra):
    """``extra`` laid over ``base``, as a merge patch applies it."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def patch_json(document):
    """Canonical JSON: the same patch always gives the same text, so previews stay quiet."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def recorded_originals(live):
    """The values recorded on ``live`` before this program patched it ({field: value}), or None."""
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(ORIGINALS_ANNOTATION)
    if text is None:
        return None
    try:
        originals = json.loads(text)
    except ValueError:
        return None
    return originals if isinstance(originals, dict) else None


def restore_patch(originals):
    """Puts each recorded value back (a field recorded as unset is removed) and drops the record."""
    restore = nest((tuple(field.split(".")), value) for field, value in sorted(originals.items()))
    return merge(restore, {"metadata": {"annotations": {ORIGINALS_ANNOTATION: None}}})


def recording_patch(live, patch, known=None):
    """(the patch to apply to ``live``, the originals it records): ``patch`` plus, in the same patch, the values
    it replaces recorded on the resource.

    A value already recorded on ``live`` (else in ``known``) is kept: a run interrupted after patching loses
    nothing. Recorded fields this patch no longer sets go back to their values.
    """
    recorded = recorded_originals(live)
    if recorded is None:
        recorded = known or {}
    originals = {}
    for path, _ in leaves(patch):
        current = lookup(live, path)
        # A field that was not set is recorded as null: null removes it again in a merge patch.
        originals[".".join(path)] = recorded.get(".".join(path), None if current is MISSING else current)
    dropped = {field: value for field, value in recorded.items() if field not in originals}
    record = {"metadata": {"annotations": {ORIGINALS_ANNOTATION: patch_json(originals)}}}
    return merge(merge(restore_patch(dropped), patch), record), originals


def main(argv):
    command = argv[1] if len(argv) > 1 else ""
    if command == "write-config" and len(argv) == 3:
        write_config(argv[2])
    elif command in ("recording-patch", "rollback-patch") and len(argv) == 4:
        before = load_json(argv[2], "the current resource")
        change, originals = recording_patch(before, json.loads(argv[3]))
        sys.stdout.write(patch_json(change if command == "recording-patch" else restore_patch(originals)) + "\n")
    elif command == "verify" and len(argv) == 4:
        after = load_json(argv[2], "the patched resource")
        patch = json.loads(argv[3])
        wrong = []
        for path, value in leaves(patch):
            found = lookup(after, path)
            if found != value:
                shown = "unset" if found is MISSING else patch_json(found)
                wrong.append("{} is {}, expected {}".format(".".join(path), shown, patch_json(value)))
        if wrong:
            fail("after the patch, " + "; ".join(wrong))
        sys.stdout.write(patch_json({"applied": nest((path, lookup(after, path)) for path, _ in leaves(patch))}) + "\n")
    elif command == "recorded-restore" and len(argv) == 3:
        originals = recorded_originals(load_json(argv[2], "the current resource"))
        if originals is None:
            sys.stderr.write(
                PREFIX + "no previous values were recorded when this was created; leaving the resource as it is\n"
            )
            return
        sys.stdout.write(patch_json(restore_patch(originals)) + "\n")
    else:
        fail(
            "usage: helper.py write-config DIR | recording-patch BEFORE PATCH | rollback-patch BEFORE PATCH"
            " | verify AFTER PATCH | recorded-restore CURRENT",
            2,
        )


if __name__ == "__main__":
    main(sys.argv)
