"""Dashboard panels that mirror an alert draw its threshold where the stack's alert overrides put it."""

from __future__ import annotations

from collections.abc import Mapping

from dashboards.document import copy_dashboard, iter_panels

#: Panels that draw the threshold of the alert they mirror, by dashboard key and panel title:
#: their highest threshold step is that alert's threshold, moved by alerts.overrides.
ALERT_PANELS: dict[tuple[str, str], str] = {
    ("felix.json", "Dataplane apply time, 99th percentile"): "CalicoFelixDataplaneApplySlow",
    ("felix.json", "Datastore resyncs per 15 minutes"): "CalicoFelixFrequentResyncs",
    ("felix.json", "Felix process restarts per 15 minutes"): "CalicoFelixRestarting",
    ("felix.json", "Resyncing or restarting"): "CalicoFelixResyncsWidespread",
    ("typha.json", "Ping round trip, 99th percentile"): "CalicoTyphaPingSlow",
    ("typha.json", "Client lag, 99th percentile"): "CalicoTyphaClientsLagging",
    ("kube-controllers.json", "Fullest pool"): "CalicoIPPoolNearlyExhausted",
    ("kube-controllers.json", "Pool utilisation"): "CalicoIPPoolNearlyExhausted",
}


def set_alert_thresholds(dashboard: dict, key: str, thresholds: Mapping[str, float], *, copy: bool = True) -> dict:
    """``dashboard`` (ConfigMap key ``key``) with each panel of ``ALERT_PANELS`` drawing its alert's threshold."""
    result = copy_dashboard(dashboard) if copy else dashboard
    for panel in iter_panels(result):
        alert = ALERT_PANELS.get((key, panel.get("title")))
        if alert is None or alert not in thresholds:
            continue
        value = thresholds[alert]
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        last = dict(steps[-1], value=value)
        # Steps below the last that would now sit above it (an override lowered the threshold) go.
        steps[:] = [s for s in steps[:-1] if s.get("value") is None or s["value"] < value] + [last]
    return result
