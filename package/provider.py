"""The package's provider process: CalicoMonitoring's Construct, and the CRUD of its own resources.

Run as a stack program, a calicoctl patch is a dynamic resource, whose provider the engine starts
as a separate Python process with the CLI's `python3` (which a YAML or TypeScript program does not
have with this code and the Pulumi SDK in it). Served as a package, the components create
`calico-monitoring:index:CalicoctlPatch` instead: a custom resource of this package, so the
engine sends its Check/Diff/Create/Read/Update/Delete to this same process, in the package's own
virtualenv, where CalicoctlPatchProvider does the work. The same holds for the PatchRelease
beside each patch of Calico's objects (`calico-monitoring:index:PatchRelease`, PatchReleaseProvider).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import grpc.aio
import pulumi
from google.protobuf import empty_pb2, struct_pb2
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.provider import ConstructResult
from pulumi.provider.server import ComponentInitError, ProviderServicer
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from calicoctl.provider import CalicoctlPatchProvider, changed_inputs
from components.calico_monitoring import CalicoMonitoring as ProgramCalicoMonitoring
from components.prerequisites import PREFLIGHT_CHART
from components.resource_types import ResourceTypes
from package.component import NAME, VERSION, CalicoMonitoring, outputs_of, settings_from_args
from package.sdk_internals import GRPC_CHANNEL_OPTIONS, component_definition
from patch_release.provider import INPUT_KEYS as RELEASE_INPUT_KEYS
from patch_release.provider import PatchReleaseProvider

PATCH_TYPE = f"{NAME}:index:CalicoctlPatch"
RELEASE_TYPE = f"{NAME}:index:PatchRelease"


class PackagedCalicoctlPatch(pulumi.CustomResource):
    """The same calicoctl patch as calicoctl.provider.CalicoctlPatch, as this package's own resource type."""

    applied: pulumi.Output[Any]
    originals: pulumi.Output[Any]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        own = pulumi.ResourceOptions(additional_secret_outputs=["connection"], version=VERSION)
        super().__init__(
            PATCH_TYPE, name, {**props, "applied": None, "originals": None}, pulumi.ResourceOptions.merge(opts, own)
        )


class PackagedPatchRelease(pulumi.CustomResource):
    """The same PatchRelease as patch_release.provider.PatchRelease, as this package's own resource type."""

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        own = pulumi.ResourceOptions(additional_secret_outputs=["connection"], version=VERSION)
        super().__init__(RELEASE_TYPE, name, props, pulumi.ResourceOptions.merge(opts, own))


def reveal(value: Any) -> tuple[Any, bool]:
    """A deserialized property with every secret unwrapped, and whether it held one."""
    if rpc.is_rpc_secret(value):
        return reveal(rpc.unwrap_rpc_secret(value))[0], True
    if isinstance(value, dict):
        pairs = {key: reveal(item) for key, item in value.items()}
        return {key: item for key, (item, _) in pairs.items()}, any(secret for _, secret in pairs.values())
    if isinstance(value, list):
        pairs = [reveal(item) for item in value]
        return [item for item, _ in pairs], any(secret for _, secret in pairs)
    return value, False


def plain_properties(struct: struct_pb2.Struct) -> tuple[dict[str, Any], set[str]]:
    """The properties calicoctl needs (secrets in the clear, in memory only) and the keys that were secret."""
    properties = rpc.deserialize_properties(struct, keep_unknowns=True) or {}
    plain, secret = {}, set()
    for key, value in properties.items():
        plain[key], held = reveal(value)
        if held:
            secret.add(key)
    return plain, secret


def to_struct(properties: dict[str, Any], secret: set[str]) -> struct_pb2.Struct:
    """Properties back to the engine, what came in secret wrapped as secret again."""
    result = struct_pb2.Struct()
    result.update({key: rpc.wrap_rpc_secret(value) if key in secret else value for key, value in properties.items()})
    return result


def changed_release_inputs(olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    return [key for key in RELEASE_INPUT_KEYS if olds.get(key) != news.get(key)]


class Servicer(ProviderServicer):
    """The component provider host's servicer, plus the CRUD of PATCH_TYPE and RELEASE_TYPE."""

    patches = CalicoctlPatchProvider()
    releases = PatchReleaseProvider()

    def _provider(self, urn: str) -> tuple[Any, Callable[[dict[str, Any], dict[str, Any]], list[str]]]:
        """Who serves the resource of ``urn``, and which of its inputs differ, as its diff names them."""
        if urn.split("::")[2].rsplit("$", 1)[-1] == RELEASE_TYPE:
            return self.releases, changed_release_inputs
        return self.patches, changed_inputs

    async def _call(self, context, function, *args):
        try:
            return await asyncio.to_thread(function, *args)
        except Exception as error:  # reported to the engine as the operation's error
            await context.abort(grpc.StatusCode.UNKNOWN, str(error))

    async def Check(self, request, context):
        return provider_pb2.CheckResponse(inputs=request.news)

    async def Diff(self, request, context):
        provider, changed_keys = self._provider(request.urn)
        olds, _ = plain_properties(request.olds)
        news, _ = plain_properties(request.news)
        result = await self._call(context, provider.diff, request.id, olds, news)
        changed = changed_keys(olds, news)
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME if result.changes else provider_pb2.DiffResponse.DIFF_NONE,
            replaces=list(result.replaces or []),
            deleteBeforeReplace=bool(result.delete_before_replace),
            diffs=changed,
        )

    async def Create(self, request, context):
        provider, _ = self._provider(request.urn)
        props, secret = plain_properties(request.properties)
        result = await self._call(context, provider.create, props)
        return provider_pb2.CreateResponse(id=result.id, properties=to_struct(result.outs, secret))

    async def Update(self, request, context):
        provider, _ = self._provider(request.urn)
        olds, _ = plain_properties(request.olds)
        news, secret = plain_properties(request.news)
        result = await self._call(context, provider.update, request.id, olds, news)
        return provider_pb2.UpdateResponse(properties=to_struct(result.outs, secret))

    async def Read(self, request, context):
        provider, _ = self._provider(request.urn)
        props, secret = plain_properties(request.properties)
        result = await self._call(context, provider.read, request.id, props)
        return provider_pb2.ReadResponse(id=result.id, properties=to_struct(result.outs, secret), inputs=request.inputs)

    async def Delete(self, request, context):
        provider, _ = self._provider(request.urn)
        props, _ = plain_properties(request.properties)
        await self._call(context, provider.delete, request.id, props)
        return empty_pb2.Empty()


class CalicoMonitoringProvider(ComponentProvider):
    """The schema the host infers from package.component.CalicoMonitoring; Construct builds the program's
    component from those Args, so the package and `make up` create the same resources."""

    def __init__(self) -> None:
        super().__init__([CalicoMonitoring], NAME, None, VERSION)

    def construct(self, name, resource_type, inputs, options=None) -> ConstructResult:
        self.validate_resource_type(NAME, resource_type)
        definition = component_definition(self, CalicoMonitoring.__name__)
        args = self.map_inputs(inputs, definition)
        try:
            settings = settings_from_args(args)
            monitoring = ProgramCalicoMonitoring(name, settings, options, package_resource_types())
        except Exception as error:  # the host reports a component's errors this way
            raise ComponentInitError(error) from error
        state = self.get_state(SimpleNamespace(**outputs_of(monitoring, settings)), definition)
        return ConstructResult(monitoring.urn, state)


def package_resource_types() -> ResourceTypes:
    """This package's own resource types, and the preflight chart's path from the consumer's project directory,
    where the engine starts this process and the kubernetes provider and where the package's code is not."""
    return ResourceTypes(
        calicoctl_patch=PackagedCalicoctlPatch,
        patch_release=PackagedPatchRelease,
        preflight_chart=os.path.relpath(PREFLIGHT_CHART, Path.cwd()),
    )


def serve(argv: list[str]) -> None:
    """pulumi.provider.main with this servicer: print the port, then serve until the engine stops us."""
    provider = CalicoMonitoringProvider()
    engine = next(arg for arg in argv if not arg.startswith("-"))

    async def run() -> None:
        server = grpc.aio.server(options=GRPC_CHANNEL_OPTIONS)
        provider_pb2_grpc.add_ResourceProviderServicer_to_server(Servicer(provider, argv, engine), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        sys.stdout.buffer.write(f"{port}\n".encode())
        sys.stdout.buffer.flush()
        await server.wait_for_termination()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
