"""The base of every settings section, and ``setting()``, which declares one of its config keys.

Each section is a frozen pydantic model the rest of the program reads (``settings.pod_monitor.interval``).
Config keys are the camelCase aliases (``podMonitor.scrapeTimeout``). Validated in config mode (see
``configuration.problems``), a section accepts only aliases and reports each problem at its path, worded
with the `accepts` text of the field it is about. Built in code (``PodMonitorSettings()``), the models take
field names and use the same defaults. The metadata ``setting()`` records also feeds Pulumi.yaml's `config:`
block and the README's tables (``configuration.docs``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Annotated, Any, ClassVar, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails

from configuration.problems import (
    PROBLEM_TYPES,
    carried_problem,
    in_config_mode,
    note_problem,
    unknown_problem,
    value_problem,
)


def setting(
    default: Any = ...,
    *,
    accepts: str,
    meaning: str = "",
    shown_default: str | None = None,
    item: str | None = None,
    key: str | None = None,
    required: str | None = None,
    alias: str | None = None,
    internal: bool = False,
    default_factory: Callable[[], Any] | None = None,
) -> Any:
    """A config field: ``accepts`` ends every "got …; expected …" message about it (``item`` and ``key``
    for the entries and keys of a list or map), ``meaning`` and ``shown_default`` go into the docs,
    ``required`` is why a missing required field is needed, ``internal`` fields are not config keys."""
    extra = {
        "accepts": accepts,
        "meaning": meaning,
        "shown_default": shown_default,
        "item": item,
        "key": key,
        "required": required,
        "internal": internal,
    }
    kwargs: dict[str, Any] = {"json_schema_extra": extra, "description": meaning or None}
    if alias is not None:
        kwargs["alias"] = alias
    if default_factory is not None:
        return Field(default_factory=default_factory, **kwargs)
    return Field(default, **kwargs)


def checked(rule: Callable[[Any], bool]) -> AfterValidator:
    """A value that passes its type but not ``rule`` fails; the field's `accepts` text says why."""

    def check(value: Any) -> Any:
        if value is not None and not rule(value):  # None: an optional setting left unset
            raise ValueError("not accepted")
        return value

    return AfterValidator(check)


class Section(BaseModel):
    """A frozen settings object; in config mode it reports each problem at its path, all at once."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        arbitrary_types_allowed=True,
    )
    # The section's one-line description for Pulumi.yaml and the README.
    summary: ClassVar[str] = ""

    @classmethod
    def config_fields(cls) -> dict[str, str]:
        """Config key (alias) to field name, in declaration order, internal fields left out."""
        return {
            field.alias or name: name
            for name, field in cls.model_fields.items()
            if not (field.json_schema_extra or {}).get("internal")
        }

    @classmethod
    def listed_keys(cls) -> list[str]:
        return sorted(cls.config_fields())

    @classmethod
    def meta(cls, alias: str) -> dict[str, Any]:
        return dict(cls.model_fields[cls.config_fields()[alias]].json_schema_extra or {})

    @classmethod
    def prepare(cls, data: dict[str, Any], info: ValidationInfo) -> tuple[dict[str, Any], list[InitErrorDetails]]:
        """Turns the section's raw value into what its fields validate; problems found on the way."""
        return data, []

    @classmethod
    def checks(cls, data: dict[str, Any], info: ValidationInfo) -> list[InitErrorDetails]:
        """Problems that involve more than one field; run whether or not the fields themselves are valid."""
        return []

    @classmethod
    def resolve(cls, result: Section, data: dict[str, Any], info: ValidationInfo) -> Section:
        """The valid settings, with defaults that depend on other settings filled in."""
        return result

    @classmethod
    def valid(cls, data: Mapping[str, Any], alias: str, info: ValidationInfo | None = None) -> Any:
        """The value of one field as it validates on its own, or None when it is absent or invalid."""
        if not isinstance(data, Mapping) or alias not in data:
            return None
        try:
            return _field_adapter(cls, cls.config_fields()[alias]).validate_python(
                data[alias], context=info.context if info is not None else None
            )
        except ValidationError:
            return None

    @classmethod
    def value_or_default(cls, data: Mapping[str, Any], alias: str, info: ValidationInfo | None = None) -> Any:
        if isinstance(data, Mapping) and alias in data:
            return cls.valid(data, alias, info)
        field = cls.model_fields[cls.config_fields()[alias]]
        return field.get_default(call_default_factory=True)

    @classmethod
    def explain(cls, error: Mapping[str, Any]) -> InitErrorDetails:
        """A pydantic error of one of this section's own fields, worded with the field's `accepts` text."""
        loc = tuple(error["loc"])
        if error["type"] in PROBLEM_TYPES or not loc or loc[0] not in cls.config_fields():
            return carried_problem(error)
        meta = cls.meta(loc[0])
        if error["type"] == "missing" and len(loc) == 1:
            if meta.get("required"):
                return note_problem(loc, f"missing; it is required ({meta['required']})")
            return value_problem(loc, None, meta["accepts"])
        if len(loc) > 1 and loc[-1] == "[key]":
            return value_problem(loc[:-1], error.get("input"), meta.get("key") or meta["accepts"])
        if len(loc) > 1:
            return value_problem(loc, error.get("input"), meta.get("item") or meta["accepts"])
        return value_problem(loc, error.get("input"), meta["accepts"])

    @model_validator(mode="wrap")
    @classmethod
    def _validate_config(cls, data: Any, handler: Callable[[Any], Any], info: ValidationInfo) -> Any:
        if not in_config_mode(info) or not isinstance(data, Mapping):
            return handler(data)
        accepted = cls.config_fields()
        raw = data
        unknown = [unknown_problem((name,), name, cls.listed_keys()) for name in data if name not in accepted]
        data, found = cls.prepare({name: value for name, value in data.items() if name in accepted}, info)
        problems = []
        result = None
        try:
            result = handler(data)
        except ValidationError as error:
            problems = [cls.explain(e) for e in error.errors()]
        problems += found + unknown + cls.checks(data, info)
        if problems:
            order = list(accepted)
            problems.sort(key=lambda problem: _reading_order(problem["loc"], order, raw))
            raise ValidationError.from_exception_data(cls.__name__, problems)
        return cls.resolve(result, data, info)


def _reading_order(loc: tuple, fields: list[str], raw: Mapping[str, Any]) -> tuple[int, ...]:
    """Problems in the order of the section's fields, then of the entries as the stack lists them."""
    if not loc:
        return (len(fields) + 1,)
    key = [fields.index(loc[0]) if loc[0] in fields else len(fields)]
    node: Any = raw.get(loc[0])
    for part in loc[1:]:
        if isinstance(node, Mapping) and part in node:
            key.append(list(node).index(part))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            key.append(part)
            node = node[part]
        else:
            key.append(1 << 30)
            break
    return tuple(key)


@cache
def _field_adapter(cls: type[Section], name: str) -> TypeAdapter:
    field = cls.model_fields[name]
    annotation = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
    return TypeAdapter(annotation, config=ConfigDict(strict=True, arbitrary_types_allowed=True))


def section_models(annotation: Any) -> tuple[type[Section], ...]:
    """The Section models a field's annotation holds (``X``, ``X | None``, a discriminated union)."""
    if isinstance(annotation, type):
        return (annotation,) if issubclass(annotation, Section) else ()
    args = get_args(annotation)
    if get_origin(annotation) is Annotated:
        args = args[:1]
    return tuple(model for arg in args for model in section_models(arg))
