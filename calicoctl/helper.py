"""Runs on the machine that runs `pulumi up`: imported by the calicoctl provider
(calicoctl/provider.py), runnable as `python -m calicoctl.helper`, and embedded verbatim in
the standalone scripts renderYamlTo writes (they run where this repository may not be).

The scripts call it with ``python3`` for the steps a POSIX shell cannot do safely:
writing calicoctl's connection config from the environment, and reading calicoctl's
JSON. It uses the standard library only and never prints a secret.

    write-config DIR                     DIR/calicoctl.cfg (+ PEM files) from the environment
    restore-patch BEFORE PATCH           the patch that puts BEFORE's values of PATCH's fields back
    verify AFTER RESTORE PATCH           check AFTER carries PATCH; print the state to record
    recorded-restore                     the restore patch recorded by create (PULUMI_COMMAND_STDOUT)
"""

import json
import os
import sys

MISSING = object()
PREFIX = "calico-monitoring: "


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


def restore_patch(before, patch):
    # A field that was not set before is removed again: null deletes it in a merge patch.
    return nest((path, None if lookup(before, path) is MISSING else lookup(before, path)) for path, _ in leaves(patch))


def dumps(document):
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def main(argv):
    command = argv[1] if len(argv) > 1 else ""
    if command == "write-config" and len(argv) == 3:
        write_config(argv[2])
    elif command == "restore-patch" and len(argv) == 4:
        before = load_json(argv[2], "the current resource")
        sys.stdout.write(dumps(restore_patch(before, json.loads(argv[3]))) + "\n")
    elif command == "verify" and len(argv) == 5:
        after = load_json(argv[2], "the patched resource")
        restore = load_json(argv[3], "the recorded previous values")
        patch = json.loads(argv[4])
        wrong = [
            "{} is {}, expected {}".format(
                ".".join(path), "unset" if lookup(after, path) is MISSING else dumps(lookup(after, path)), dumps(value)
            )
            for path, value in leaves(patch)
            if lookup(after, path) != value
        ]
        if wrong:
            fail("after the patch, " + "; ".join(wrong))
        applied = nest((path, lookup(after, path)) for path, _ in leaves(patch))
        sys.stdout.write(dumps({"applied": applied, "restorePatch": restore}) + "\n")
    elif command == "recorded-restore" and len(argv) == 2:
        recorded = os.environ.get("PULUMI_COMMAND_STDOUT", "").strip()
        try:
            restore = json.loads(recorded)["restorePatch"]
        except (ValueError, KeyError, TypeError):
            sys.stderr.write(
                PREFIX + "no previous values were recorded when this was created; leaving the resource as it is\n"
            )
            return
        sys.stdout.write(dumps(restore) + "\n")
    else:
        fail(
            "usage: helper.py write-config DIR | restore-patch BEFORE PATCH | verify AFTER RESTORE PATCH"
            " | recorded-restore",
            2,
        )


if __name__ == "__main__":
    main(sys.argv)
