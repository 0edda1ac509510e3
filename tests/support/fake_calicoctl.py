#!/usr/bin/env python3
"""A stand-in for calicoctl, for tests: it records every call and keeps a tiny datastore.

Environment it reads (set by the tests, inherited through the scripts):
  FAKE_CALICOCTL_DIR    where calls.jsonl and the resource files live
  FAKE_CALICOCTL_FAIL   "get", "patch" or "all": that call fails like calicoctl does
  FAKE_CALICOCTL_FAIL_MESSAGE  what the failing call prints instead of the default refusal
  FAKE_CALICOCTL_DROP   a spec field a patch silently ignores (an older Calico, say)
  FAKE_CALICOCTL_HANG   "get", "patch" or "all": that call never answers (as calicoctl retrying an unreachable etcd)
  FAKE_CALICOCTL_VERSION  what `calicoctl version --client` prints as its Client Version (v3.31.0 unless set)

Each call appends one JSON line to calls.jsonl with its argv, the datastore
environment variables, and the --config file with every file it points to
(content and permission bits), read while the call runs.
"""

import json
import os
import stat
import sys
import time

DIR = os.environ["FAKE_CALICOCTL_DIR"]
RECORDED_ENV = (
    "DATASTORE_TYPE",
    "KUBECONFIG",
    "K8S_CURRENT_CONTEXT",
    "ETCD_ENDPOINTS",
    "ETCD_KEY_FILE",
    "ETCD_CERT_FILE",
    "ETCD_CA_CERT_FILE",
    "ETCD_USERNAME",
)


def file_record(path):
    try:
        with open(path) as handle:
            content = handle.read()
        return {"content": content, "mode": stat.S_IMODE(os.stat(path).st_mode)}
    except OSError as error:
        return {"error": str(error)}


def option(argv, name):
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def merge(target, patch):
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = value


def main(argv):
    config_path = option(argv, "--config")
    record = {
        "argv": argv[1:],
        "env": {name: os.environ[name] for name in RECORDED_ENV if name in os.environ},
        "config": None,
        "files": {},
    }
    if config_path:
        record["config"] = file_record(config_path)
        try:
            spec = json.loads(record["config"]["content"]).get("spec", {})
        except (KeyError, ValueError):
            spec = {}
        for field in ("kubeconfig", "etcdKeyFile", "etcdCertFile", "etcdCACertFile"):
            if spec.get(field):
                record["files"][field] = file_record(spec[field])
    with open(os.path.join(DIR, "calls.jsonl"), "a") as log:
        log.write(json.dumps(record) + "\n")

    fail = os.environ.get("FAKE_CALICOCTL_FAIL", "")
    words = [a for a in argv[1:] if not a.startswith("-")]
    verb = words[0] if words else ""
    if verb == "version" and "--client" in argv:
        print("Client Version:    " + os.environ.get("FAKE_CALICOCTL_VERSION", "v3.31.0"))
        print("Git commit:        fake")
        return 0
    if os.environ.get("FAKE_CALICOCTL_HANG", "") in (verb, "all"):
        time.sleep(600)
    if fail in (verb, "all"):
        # calicoctl reports most failures on stdout and exits 1.
        print(
            os.environ.get("FAKE_CALICOCTL_FAIL_MESSAGE")
            or "connection is unauthorized: etcdserver: the fake datastore refuses this " + verb
        )
        return 1
    if verb not in ("get", "patch") or len(words) < 3:
        print("fake calicoctl: unsupported call " + json.dumps(argv[1:]))
        return 2
    resource = os.path.join(DIR, words[1].lower() + "." + words[2] + ".json")
    if not os.path.exists(resource):
        print("resource does not exist: " + words[1] + "(" + words[2] + ")")
        return 1
    with open(resource) as handle:
        document = json.load(handle)
    if verb == "get":
        if option(argv, "-o") != "json":
            print("fake calicoctl: only -o json is supported")
            return 2
        print(json.dumps(document, indent=2))
        return 0
    patch = json.loads(option(argv, "--patch") or option(argv, "-p"))
    dropped = os.environ.get("FAKE_CALICOCTL_DROP")
    if dropped:
        patch.get("spec", {}).pop(dropped, None)
    merge(document, patch)
    with open(resource, "w") as handle:
        json.dump(document, handle)
    print("Successfully patched 1 '" + document.get("kind", "") + "' resource")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
