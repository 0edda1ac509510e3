"""The places the package reaches into the Pulumi SDK's private parts, kept here so an SDK upgrade that
moves them breaks one small module.

- ``resolved_value``: Settings decide which resources exist, so a secret Arg is needed while the component is
  constructed; the SDK offers no public way to read an Output's value synchronously, and the Outputs it
  deserializes from a Construct request are already resolved.
- ``component_definition``: Construct maps the request's inputs and the component's outputs with the
  definition the SDK's ComponentProvider inferred from the Args, which it keeps in a private attribute.
- ``GRPC_CHANNEL_OPTIONS``: the message-size limits the SDK's own provider server uses; the package serves its
  CRUD beside the component host with the same limits, which the SDK does not export.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS

GRPC_CHANNEL_OPTIONS = _GRPC_CHANNEL_OPTIONS


def resolved_value(value: pulumi.Output) -> tuple[bool, Any]:
    """(True, its value) for an Output that is already resolved and known; (False, None) otherwise."""
    future = value._future
    known = value._is_known
    if future.done() and known.done() and known.result():
        return True, future.result()
    return False, None


def component_definition(provider: ComponentProvider, component: str) -> Any:
    """The definition ComponentProvider inferred for ``component`` (a class name) from its Args."""
    return provider._component_defs[component]
