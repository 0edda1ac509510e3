"""Field types and `accepts` texts several sections share: labels, annotations, names, lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from builders.values import is_label_key, is_label_value
from configuration.section import checked

NAMESPACE_HINT = "a Kubernetes namespace name"
OBJECT_NAME_HINT = "a Kubernetes object name"
LABELS_HINT = "a map of Kubernetes label names to string values"
LABEL_KEY_HINT = "a Kubernetes label name such as release or app.kubernetes.io/part-of"
LABEL_VALUE_HINT = "a label value: at most 63 letters, digits, '-', '_' or '.'"
ANNOTATIONS_HINT = "a map of Kubernetes annotation names to string values"


def as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def as_dict(value: Any) -> Any:
    return dict(value) if isinstance(value, tuple) else value


def _label_text(value: Any) -> Any:
    # `pulumi config set --path …labels.x 1` stores a number (and true a boolean): the user meant text.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return value


def _sorted_pairs(value: Any) -> Any:
    return tuple(sorted(value.items())) if isinstance(value, Mapping) else tuple(value)


LabelKey = Annotated[str, checked(is_label_key)]
LabelValue = Annotated[str, BeforeValidator(_label_text), checked(is_label_value)]
# Given as a map, kept as sorted (name, value) pairs so settings compare and render deterministically.
Labels = Annotated[dict[LabelKey, LabelValue], BeforeValidator(as_dict), AfterValidator(_sorted_pairs)]
AnnotationKey = Annotated[str, checked(is_label_key)]
Annotations = Annotated[dict[AnnotationKey, str], BeforeValidator(as_dict), AfterValidator(_sorted_pairs)]
