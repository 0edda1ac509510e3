"""URNs of resources as earlier releases named them, for the aliases that keep an upgrade in place.

A child's URN carries the types of all its parents (the stack excluded), so a resource
that moves to another parent or takes another name needs an alias naming its old URN,
built from the URN of a parent that did not move.
"""

from __future__ import annotations


def child_urn(parent_urn: str, type_: str, name: str) -> str:
    """The URN a resource of ``type_`` named ``name`` has under the parent ``parent_urn``."""
    prefix, project, parent_type, _parent_name = parent_urn.split("::", 3)
    return f"{prefix}::{project}::{parent_type}${type_}::{name}"
