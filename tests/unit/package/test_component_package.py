"""The component package's Args, schema, Settings and secret handling (package/), without an engine."""

import json
import os
import typing
from typing import Any, NotRequired, TypedDict, get_args, get_origin

import pulumi
import pytest
from google.protobuf import struct_pb2
from pulumi.provider.experimental.util import camel_case
from pulumi.runtime import rpc

import calicoctl.command
import components.patches
import components.prerequisites
import package.args as args_module
from calicoctl.provider import CalicoctlPatch
from components.resource_types import ResourceTypes
from configuration import ConfigError, Settings, parse_settings
from configuration.section import Section
from package import generate
from package.args import CalicoMonitoringArgs, DatastoreType, FelixScrape
from package.component import settings_from_args
from package.provider import CalicoMonitoringProvider, plain_properties, to_struct
from patch_release.provider import PatchRelease

ROOT = generate.TARGET.parent.parent


def typed_dicts_in(annotation: Any) -> list[type]:
    """The TypedDicts an Args annotation holds (through NotRequired, list, dict and pulumi.Input)."""
    if typing.is_typeddict(annotation):
        return [annotation]
    return [found for arg in get_args(annotation) for found in typed_dicts_in(arg)]


def disagreements(typed_dict: type, models: tuple[type[Section], ...], path: str = "") -> list[str]:
    """Keys the Args and the configuration model do not share, at every level."""
    hints = typed_dict.__annotations__
    keys = {camel_case(name): hint for name, hint in hints.items()}
    model_keys = {}
    for model in models:
        for alias, name in model.config_fields().items():
            model_keys.setdefault(alias, model.model_fields[name].annotation)
    if models == (Settings,):
        model_keys = {key: value for key, value in model_keys.items() if key not in generate.NOT_ARGS}
    problems = [f"{path}{key}: in the Args, not in the model" for key in sorted(set(keys) - set(model_keys))]
    problems += [f"{path}{key}: in the model, not in the Args" for key in sorted(set(model_keys) - set(keys))]
    for key in sorted(set(keys) & set(model_keys)):
        inner = typed_dicts_in(keys[key])
        node = generate.node_of(model_keys[key])
        while node.kind in ("list", "map"):
            node = node.item
        if node.kind == "section" and inner:
            problems += disagreements(inner[0], node.models, f"{path}{key}.")
        elif (node.kind == "section") != bool(inner):
            problems.append(f"{path}{key}: an object on one side only")
    return problems


def test_args_and_the_configuration_model_have_the_same_keys():
    assert disagreements(CalicoMonitoringArgs, (Settings,)) == []


def test_a_key_missing_from_the_args_or_the_model_is_found():
    class Felix(TypedDict):
        metrics_port: NotRequired[int]
        metrics_colour: NotRequired[str]

    class Args(TypedDict):
        datastore: args_module.DatastoreSettings
        felix: NotRequired[Felix]

    found = disagreements(Args, (Settings,))
    assert "felix.metricsColour: in the Args, not in the model" in found
    assert "felix.metricsHost: in the model, not in the Args" in found
    assert "podMonitor: in the model, not in the Args" in found


def test_the_args_file_is_what_the_generator_writes_from_the_model():
    assert generate.TARGET.read_text() == generate.render(), "package/args.py is out of date: run `make docs`"


def schema() -> dict:
    return json.loads(CalicoMonitoringProvider().schema)


def test_the_host_infers_a_schema_with_the_models_descriptions():
    document = schema()
    component = document["resources"]["calico-monitoring:index:CalicoMonitoring"]
    assert component["isComponent"] is True
    assert component["requiredInputs"] == ["datastore"]
    assert set(component["inputProperties"]) == set(Settings.listed_keys()) - set(generate.NOT_ARGS)
    felix = document["types"]["calico-monitoring:index:FelixSettings"]["properties"]
    meaning = Settings.model_fields["felix"].annotation.model_fields["metrics_port"].description
    assert felix["metricsPort"]["description"].startswith(meaning)
    assert felix["metricsPort"]["type"] == "integer"
    assert felix["scrape"]["$ref"] == "#/types/calico-monitoring:index:FelixScrape"
    scrape = document["types"]["calico-monitoring:index:FelixScrape"]
    assert [value["value"] for value in scrape["enum"]] == ["pod", "service"]
    datastore = document["types"]["calico-monitoring:index:DatastoreSettings"]
    assert datastore["required"] == ["type"]
    assert {"endpoints", "kubeconfig", "password"} <= set(datastore["properties"])
    undescribed = [
        f"{name}.{key}"
        for name, definition in document["types"].items()
        for key, prop in definition.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert undescribed == []
    outputs = component["properties"]
    assert outputs["felixMetricsPort"]["type"] == "integer"
    assert outputs["felixMetricsEnabled"]["type"] == "boolean"
    assert outputs["scrapeJobs"]["additionalProperties"]["type"] == "string"


def stack_settings(values: dict) -> Settings:
    return parse_settings({f"calico-monitoring:{key}": value for key, value in values.items()})


def test_args_become_the_settings_of_the_same_stack_config():
    # As the host hands them over: Python names, enum members, numbers as floats.
    given = {
        "datastore": {"type": DatastoreType.KUBERNETES, "kubeconfig": "/etc/kubeconfig", "context": "prod"},
        "felix": {"metrics_port": 9092.0, "scrape": FelixScrape.SERVICE},
        "pod_monitor": {"labels": {"release": "kube-prometheus-stack"}, "scrape_timeout": "10s"},
        "alerts": {
            "overrides": {"CalicoFelixDown": {"for_": "5m", "severity": args_module.AlertOverrideSeverity.INFO}}
        },
        "kube_controllers": {"enabled": False},
    }
    settings = settings_from_args(given)
    assert settings == stack_settings(
        {
            "datastore": {"type": "kubernetes", "kubeconfig": "/etc/kubeconfig", "context": "prod"},
            "felix": {"metricsPort": 9092, "scrape": "service"},
            "podMonitor": {"labels": {"release": "kube-prometheus-stack"}, "scrapeTimeout": "10s"},
            "alerts": {"overrides": {"CalicoFelixDown": {"for": "5m", "severity": "info"}}},
            "kubeControllers": {"enabled": False},
        }
    )
    assert settings.felix.metrics_port == 9092 and type(settings.felix.metrics_port) is int


def test_bad_args_are_reported_as_the_program_reports_bad_config():
    with pytest.raises(ConfigError) as error:
        settings_from_args(
            {"datastore": {"type": DatastoreType.KUBERNETES, "context": "prod"}, "felix": {"metrics_port": 70000.0}}
        )
    assert "calico-monitoring:felix.metricsPort: got 70000; expected a port number from 1 to 65535" in str(error.value)


def test_secret_args_stay_secret_in_the_settings():
    settings = settings_from_args(
        {
            "datastore": {
                "type": DatastoreType.ETCDV3,
                "endpoints": ["https://etcd.example:2379"],
                "username": "calico",
                "password": "s3cret-pass",
            }
        }
    )
    assert "s3cret-pass" not in repr(settings)
    assert settings.datastore.password.reveal() == "s3cret-pass"


def test_patch_properties_are_unwrapped_for_calicoctl_and_wrapped_again_for_the_engine():
    struct = struct_pb2.Struct()
    struct.update(
        {
            "kind": "felixConfiguration",
            "connection": {"DATASTORE_TYPE": "etcdv3", "ETCD_PASSWORD": rpc.wrap_rpc_secret("s3cret-pass")},
        }
    )
    plain, secret = plain_properties(struct)
    assert plain["connection"] == {"DATASTORE_TYPE": "etcdv3", "ETCD_PASSWORD": "s3cret-pass"}
    assert secret == {"connection"}
    back = rpc.deserialize_properties(to_struct({**plain, "applied": {"spec": {}}}, secret))
    assert rpc.is_rpc_secret(back["connection"]) and not rpc.is_rpc_secret(back["kind"])
    assert rpc.unwrap_rpc_secret(back["connection"])["ETCD_PASSWORD"] == "s3cret-pass"


def test_the_stack_program_keeps_the_dynamic_patch_resource():
    # The components' default resource types are the stack program's dynamic resources.
    types = ResourceTypes()
    assert types.calicoctl_patch is CalicoctlPatch
    assert issubclass(types.calicoctl_patch, pulumi.dynamic.Resource)
    assert types.patch_release is PatchRelease
    assert types.preflight_chart == "components/preflight-chart"


def test_the_plugin_folder_has_the_launcher_and_the_manifest():
    launcher = ROOT / "package/pulumi-resource-calico-monitoring"
    assert os.access(launcher, os.X_OK)
    assert (ROOT / "package/PulumiPlugin.yaml").read_text().count("virtualenv: .venv") == 1
    assert get_origin(CalicoMonitoringArgs.__annotations__["felix"]) is NotRequired


def test_the_plugin_creates_the_patches_as_its_own_resource_type(monkeypatch, tmp_path):
    import package.provider

    before = {
        module: dict(vars(module)) for module in (calicoctl.command, components.patches, components.prerequisites)
    }
    monkeypatch.setattr(package.provider.asyncio, "run", lambda coroutine: coroutine.close())
    package.provider.serve(["127.0.0.1:1"])
    # serve() rebinds nothing in the program's modules: the types reach the components as an argument.
    assert {module: dict(vars(module)) for module in before} == before
    monkeypatch.chdir(tmp_path)
    types = package.provider.package_resource_types()
    assert types.calicoctl_patch is package.provider.PackagedCalicoctlPatch
    assert types.patch_release is package.provider.PackagedPatchRelease
    assert types.preflight_chart == os.path.relpath(ROOT / "components/preflight-chart", tmp_path)
