"""What the stack ships for people: the PrometheusRule (recording rules, alerts and per-alert overrides,
checked against the shipped alerts) and the Grafana dashboards."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, ValidationInfo
from pydantic_core import InitErrorDetails

from alerts import ALERT_ANNOTATIONS, ALERTS, SEVERITIES
from alerts.validation import threshold_expected
from builders.values import (
    is_dns1123_label,
    is_dns1123_subdomain,
    is_duration_or_zero,
    is_grafana_url,
    is_label_name,
    is_non_empty_path,
    is_runbook_base_url,
    is_runbook_url_pattern,
    is_threshold,
)
from configuration.fields import (
    ANNOTATIONS_HINT,
    LABEL_KEY_HINT,
    LABEL_VALUE_HINT,
    LABELS_HINT,
    NAMESPACE_HINT,
    OBJECT_NAME_HINT,
    Annotations,
    Labels,
    as_tuple,
)
from configuration.problems import note_problem, unknown_problem, value_problem
from configuration.section import Section, checked, setting

_ALERTS_BY_NAME = {alert.name: alert for alert in ALERTS}
_ALERT_DURATION_HINT = "a Prometheus duration such as 30s, 5m, 1h30m or 1d (units ms, s, m, h, d, w, y)"


def _threshold_number(value: Any) -> Any:
    if not is_threshold(value):
        raise ValueError("not a positive number")
    return float(value) if isinstance(value, float) else value


class AlertOverride(Section):
    """What a stack may change about one shipped alert."""

    enabled: bool | None = setting(None, accepts="true or false", meaning="false drops the alert")
    for_: Annotated[str | None, checked(is_duration_or_zero)] = setting(
        None, alias="for", accepts=_ALERT_DURATION_HINT, meaning="how long the condition holds before it fires"
    )
    severity: Literal["critical", "warning", "info"] | None = setting(
        None, accepts="one of " + ", ".join(SEVERITIES), meaning="the severity label"
    )
    threshold: Annotated[float | int | None, BeforeValidator(_threshold_number)] = setting(
        None, accepts="a number greater than 0", meaning="where the alert has one"
    )

    def given(self) -> dict[str, Any]:
        """The fields the stack set, under their config names (what the rule builder takes)."""
        return self.model_dump(by_alias=True, exclude_unset=True)


def _alert_fields(alert: Any) -> list[str]:
    return list(alert.fields)


_OVERRIDE_ALIASES = {"enabled", "for", "severity", "threshold"}


def _overrides_plain(value: Any) -> Any:
    return {name: override.given() for name, override in value.items()}


Overrides = Annotated[dict[str, AlertOverride], AfterValidator(_overrides_plain)]


class AlertSettings(Section):
    summary: ClassVar[str] = "The PrometheusRule: recording rules, alerts and their overrides"

    enabled: bool = setting(
        True,
        accepts="true or false",
        meaning="the alerting rules; when false the PrometheusRule keeps only the recording rules the dashboards "
        "query (and is not created when dashboards are off too)",
    )
    name: Annotated[str, checked(is_dns1123_subdomain)] = setting(
        "calico", accepts=OBJECT_NAME_HINT, meaning="PrometheusRule name"
    )
    namespace: Annotated[str, checked(is_dns1123_label)] = setting(
        "monitoring",
        accepts=NAMESPACE_HINT,
        meaning="where the PrometheusRule goes",
        shown_default="`podMonitor.namespace`",
    )
    labels: Labels = setting(
        (),
        accepts=LABELS_HINT,
        item=LABEL_VALUE_HINT,
        key=LABEL_KEY_HINT,
        meaning="so the Prometheus `ruleSelector` picks it up",
        shown_default="`podMonitor.labels`",
    )
    runbook_base_url: Annotated[str | None, checked(is_runbook_base_url)] = setting(
        None,
        accepts="an http(s) URL of the runbook page",
        meaning="your copy of `docs/runbooks.md`; each alert links `<url>#<its name in lower case>` (the same as "
        "`runbookUrlPattern: <url>#{anchor}`)",
    )
    runbook_url_pattern: Annotated[str | None, checked(is_runbook_url_pattern)] = setting(
        None,
        accepts="an http(s) URL with {alert} (the alert name) or {anchor} (its section anchor, the name in lower "
        "case), nothing else in braces",
        meaning="each alert's `runbook_url`; unset, alerts name their section of the shipped `docs/runbooks.md` in a "
        "`runbook` annotation instead of linking a page that may not exist",
    )
    overrides: Overrides = setting(
        default_factory=dict,
        accepts="a map of alert names to overrides",
        meaning="per alert: `enabled`, `for`, `severity` (`critical`, `warning`, `info`), `threshold` where the "
        "alert has one",
        shown_default="`{}`",
    )
    # Label that tells clusters apart where one Prometheus, Thanos or Mimir sees several.
    cluster_label: Annotated[str | None, checked(is_label_name)] = setting(
        None,
        accepts="a Prometheus label name such as cluster (not starting with __)",
        meaning="a label such as `cluster` that tells clusters apart where one Prometheus, Thanos or Mimir sees "
        "several; every aggregation and join in the rules keeps it",
    )

    rule_labels: Labels = setting(
        (),
        accepts=LABELS_HINT,
        item=LABEL_VALUE_HINT,
        key=LABEL_KEY_HINT,
        meaning="added to every alert's labels (say `team`, for Alertmanager routing); `severity` stays the alert's",
        shown_default="`{}`",
    )
    rule_annotations: Annotations = setting(
        (),
        accepts=ANNOTATIONS_HINT,
        item="a string",
        key="a Kubernetes annotation name",
        meaning="added to every alert's annotations; the ones the program writes ("
        + ", ".join(f"`{name}`" for name in ALERT_ANNOTATIONS)
        + ") stay its own",
        shown_default="`{}`",
    )

    @property
    def runbook_url(self) -> str | None:
        """The runbook URL pattern the rules get: runbookUrlPattern, or runbookBaseUrl#{anchor}."""
        if self.runbook_url_pattern is not None:
            return self.runbook_url_pattern
        return None if self.runbook_base_url is None else self.runbook_base_url.split("#")[0] + "#{anchor}"

    @classmethod
    def checks(cls, data: dict[str, Any], info: ValidationInfo) -> list[InitErrorDetails]:
        problems = []
        if cls.valid(data, "runbookBaseUrl", info) is not None and cls.valid(data, "runbookUrlPattern", info):
            problems.append(note_problem((), "set runbookUrlPattern or runbookBaseUrl, not both"))
        labels, annotations = data.get("ruleLabels"), data.get("ruleAnnotations")
        if isinstance(labels, Mapping) and "severity" in labels:
            problems.append(
                note_problem(
                    ("ruleLabels", "severity"),
                    "each alert sets its own severity; change it per alert with overrides.<alert>.severity",
                )
            )
        if isinstance(annotations, Mapping):
            problems.extend(
                note_problem(
                    ("ruleAnnotations", name),
                    f"the program writes {name} on every alert; choose another annotation name",
                )
                for name in ALERT_ANNOTATIONS
                if name in annotations
            )
        return problems

    @classmethod
    def prepare(cls, data: dict[str, Any], info: ValidationInfo) -> tuple[dict[str, Any], list[InitErrorDetails]]:
        overrides = data.get("overrides")
        if not isinstance(overrides, Mapping):
            return data, []
        problems = []
        kept = {}
        for name, override in overrides.items():
            alert = _ALERTS_BY_NAME.get(name)
            loc = ("overrides", name)
            if alert is None:
                problems.append(unknown_problem(loc, name, sorted(_ALERTS_BY_NAME), what="alert"))
                continue
            fields = _alert_fields(alert)
            if not isinstance(override, Mapping):
                problems.append(value_problem(loc, override, "a map with any of " + ", ".join(fields)))
                continue
            kept[name] = {}
            for field, value in override.items():
                if field not in fields:
                    if field in _OVERRIDE_ALIASES:  # a threshold on an alert that has none
                        problems.append(
                            note_problem(
                                (*loc, field),
                                f"{alert.name} has no {field}; it accepts " + ", ".join(fields),
                            )
                        )
                    else:
                        problems.append(unknown_problem((*loc, field), field, fields))
                elif field == "threshold" and not is_threshold(value, alert.threshold_max):
                    # Reported here, where the alert's maximum is known, rather than by the field itself.
                    problems.append(value_problem((*loc, field), value, threshold_expected(alert)))
                else:
                    kept[name][field] = value
        return {**data, "overrides": kept}, problems


class DashboardSettings(Section):
    summary: ClassVar[str] = "The Grafana dashboards, as ConfigMaps for Grafana's sidecar"

    enabled: bool = setting(True, accepts="true or false", meaning="ship the dashboards")
    namespace: Annotated[str, checked(is_dns1123_label)] = setting(
        "monitoring", accepts=NAMESPACE_HINT, meaning="where the ConfigMaps go (the sidecar must watch it)"
    )
    datasource: Annotated[str, checked(lambda v: re.fullmatch(r"[A-Za-z0-9._-]{1,40}", v) is not None)] = setting(
        "prometheus",
        accepts="a Grafana datasource uid (letters, digits, '.', '_', '-'; at most 40)",
        meaning="uid of the Grafana Prometheus datasource (kube-prometheus-stack's is `prometheus`)",
    )
    labels: Labels = setting(
        (("grafana_dashboard", "1"),),
        accepts=LABELS_HINT,
        item=LABEL_VALUE_HINT,
        key=LABEL_KEY_HINT,
        meaning="replaces the default when set",
        shown_default='`{grafana_dashboard: "1"}`',
    )
    annotations: Annotations = setting(
        (),
        accepts=ANNOTATIONS_HINT,
        item="a string",
        key="a Kubernetes annotation name",
        meaning="added to every dashboard ConfigMap (say your sidecar's folder annotation); `folder` sets "
        "`grafana_folder`",
        shown_default="`{}`",
    )
    folder: Annotated[str | None, checked(lambda v: bool(v.strip()) and "\n" not in v)] = setting(
        None,
        accepts="a Grafana folder name",
        meaning="Grafana folder, as the `grafana_folder` annotation, which Grafana's sidecar reads only with "
        "`folderAnnotation: grafana_folder` and `provider.foldersFromFilesStructure: true` (kube-prometheus-stack: "
        "under `grafana.sidecar.dashboards`)",
    )
    imports: Annotated[tuple[Annotated[str, checked(is_non_empty_path)], ...], BeforeValidator(as_tuple)] = setting(
        (),
        alias="import",
        accepts="a list of dashboard file paths (*.json or a ConfigMap YAML)",
        item="a dashboard file path (*.json or a ConfigMap YAML)",
        meaning="more dashboards: `*.json` files, or ConfigMap YAML such as Calico's official "
        "`grafana-dashboards.yaml`; paths relative to this folder",
        shown_default="`[]`",
    )
    cluster_label: Annotated[str | None, checked(is_label_name)] = setting(
        None,
        accepts="a Prometheus label name such as cluster (not starting with __)",
        meaning="adds a `cluster` variable (the values of this label) to every shipped dashboard, and a matcher on it "
        "to every query; for one Grafana over several clusters",
        shown_default="`alerts.clusterLabel`",
    )
    grafana_url: Annotated[str | None, checked(is_grafana_url)] = setting(
        None,
        accepts="an http(s) URL without user, query or fragment",
        meaning="Grafana's base URL as people open it (e.g. `https://grafana.example.com`); each alert then "
        "links its dashboard in a `dashboard_url` annotation",
    )

    @classmethod
    def checks(cls, data: dict[str, Any], info: ValidationInfo) -> list[InitErrorDetails]:
        annotations = data.get("annotations")
        if data.get("folder") is not None and isinstance(annotations, Mapping) and "grafana_folder" in annotations:
            return [note_problem(("annotations", "grafana_folder"), "folder sets grafana_folder; set one of them")]
        return []
