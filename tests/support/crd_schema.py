"""Validate prometheus-operator objects against the CRD models of prometheus-operator v0.80.

The models (pydantic, generated from the CRDs) reject wrong types, enums and missing
required fields. They ignore unknown fields, so a misspelled field is caught by
checking that the object survives a round trip unchanged.
"""

from __future__ import annotations

from typing import Any

from cloudcoil.models.prometheus_operator import v1

MODELS = {"PodMonitor": v1.PodMonitor, "ServiceMonitor": v1.ServiceMonitor, "PrometheusRule": v1.PrometheusRule}


def validate_monitoring_object(manifest: dict[str, Any]) -> None:
    model = MODELS[manifest["kind"]]
    parsed = model.model_validate(manifest)
    round_trip = parsed.model_dump(by_alias=True, exclude_unset=True, mode="json")
    assert round_trip == manifest, f"{manifest['kind']} has fields the CRD does not know: {manifest} != {round_trip}"
