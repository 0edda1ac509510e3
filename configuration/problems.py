"""How a problem with a stack value is recorded while the configuration is validated.

Validating stack values (``configuration.loading.parse_settings``) runs in "config mode": every problem
comes back as one pydantic error whose type says how it is worded (``PROBLEM_TYPES``), located at its
exact path, so the whole list can be reported at once; ``configuration.loading`` words them into the
one ``ConfigError``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationInfo
from pydantic_core import InitErrorDetails, PydanticCustomError

PROJECT = "calico-monitoring"
# Marks a validation of stack values (aliases only, problems worded for people) in the pydantic context.
CONFIG_MODE = "calico-monitoring-config"


class ConfigError(ValueError):
    """A stack setting is missing or wrong; the message lists every problem."""


# Custom error types and the text pydantic keeps as their message; configuration.loading words them.
PROBLEM_TYPES = {
    "calico_value": "expected {expected}",  # "<path>: got <value>; expected <expected>"
    "calico_note": "{note}",  # "<path>: <note>"
    "calico_secret": "a non-empty string (value not shown: it is secret)",
    "calico_unknown": "unknown setting",  # with the accepted names and the closest one
}


def value_problem(loc: tuple, value: Any, expected: str) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError("calico_value", PROBLEM_TYPES["calico_value"], {"expected": expected}),
        loc=loc,
        input=value,
    )


def note_problem(loc: tuple, note: str) -> InitErrorDetails:
    return InitErrorDetails(type=note_error(note), loc=loc, input=None)


def note_error(note: str) -> PydanticCustomError:
    """A note, raised by a validator (it is reported at the validated value's path)."""
    return PydanticCustomError("calico_note", PROBLEM_TYPES["calico_note"], {"note": note})


def unknown_problem(loc: tuple, name: str, accepted: list[str], what: str = "setting") -> InitErrorDetails:
    closest = difflib.get_close_matches(name, accepted, n=1, cutoff=0.75) if isinstance(name, str) else []
    return InitErrorDetails(
        type=PydanticCustomError(
            "calico_unknown",
            PROBLEM_TYPES["calico_unknown"],
            {"accepted": accepted, "closest": closest[0] if closest else None, "what": what},
        ),
        loc=loc,
        input=name,
    )


def carried_problem(error: Mapping[str, Any], loc: tuple | None = None) -> InitErrorDetails:
    """One error of an inner validation, raised again from an outer one (with ``loc`` rewritten)."""
    loc = tuple(error["loc"]) if loc is None else loc
    kind = error["type"]
    if kind in PROBLEM_TYPES:
        kind = PydanticCustomError(kind, PROBLEM_TYPES[kind], error.get("ctx") or {})
    details = InitErrorDetails(type=kind, loc=loc, input=error.get("input"))
    if error.get("ctx") and not isinstance(kind, PydanticCustomError):
        details["ctx"] = error["ctx"]
    return details


def in_config_mode(info: ValidationInfo | None) -> bool:
    return info is not None and isinstance(info.context, Mapping) and CONFIG_MODE in info.context


def secret_roots(info: ValidationInfo | None) -> frozenset[str]:
    """The top-level keys the stack stores encrypted, as ``parse_settings`` passes them."""
    if not in_config_mode(info):
        return frozenset()
    return frozenset(info.context[CONFIG_MODE].get("secret", ()))
