{{- /*
Label selectors as prometheus-operator reads a Prometheus' (metav1.LabelSelectorAsSelector): matchLabels
and matchExpressions (In, NotIn, Exists, DoesNotExist) must all hold; an empty selector holds for any
labels. A null selector is the caller's to handle: it selects nothing (monitors, rules) or only the
Prometheus' own namespace (namespace selectors).
*/ -}}

{{- /* "true" when the selector (.selector, a map) matches .labels, else nothing. */ -}}
{{- define "preflight.matches" -}}
{{- $labels := default (dict) .labels -}}
{{- $matches := true -}}
{{- range $key, $value := (dig "matchLabels" (dict) .selector) -}}
{{- if not (and (hasKey $labels $key) (eq (toString (index $labels $key)) (toString $value))) -}}
{{- $matches = false -}}
{{- end -}}
{{- end -}}
{{- range $expression := (dig "matchExpressions" (list) .selector) -}}
{{- $present := hasKey $labels $expression.key -}}
{{- $listed := and $present (has (toString (index $labels $expression.key)) (default (list) $expression.values)) -}}
{{- if eq $expression.operator "In" -}}
{{- if not $listed }}{{ $matches = false }}{{ end -}}
{{- else if eq $expression.operator "NotIn" -}}
{{- if $listed }}{{ $matches = false }}{{ end -}}
{{- else if eq $expression.operator "Exists" -}}
{{- if not $present }}{{ $matches = false }}{{ end -}}
{{- else if eq $expression.operator "DoesNotExist" -}}
{{- if $present }}{{ $matches = false }}{{ end -}}
{{- else -}}
{{- /* prometheus-operator refuses a selector with any other operator: it selects nothing */ -}}
{{- $matches = false -}}
{{- end -}}
{{- end -}}
{{- if $matches }}true{{ end -}}
{{- end -}}

{{- /* A selector (a map) as kubectl's -l spells it: release=kube-prometheus-stack,team in (a,b),!legacy */ -}}
{{- define "preflight.selector-text" -}}
{{- $terms := list -}}
{{- range $key, $value := (dig "matchLabels" (dict) .) -}}
{{- $terms = append $terms (printf "%s=%s" $key (toString $value)) -}}
{{- end -}}
{{- range $expression := (dig "matchExpressions" (list) .) -}}
{{- $values := join "," (default (list) $expression.values) -}}
{{- if eq $expression.operator "In" -}}
{{- $terms = append $terms (printf "%s in (%s)" $expression.key $values) -}}
{{- else if eq $expression.operator "NotIn" -}}
{{- $terms = append $terms (printf "%s notin (%s)" $expression.key $values) -}}
{{- else if eq $expression.operator "Exists" -}}
{{- $terms = append $terms $expression.key -}}
{{- else if eq $expression.operator "DoesNotExist" -}}
{{- $terms = append $terms (printf "!%s" $expression.key) -}}
{{- else -}}
{{- $terms = append $terms (printf "%s %s (%s)" $expression.key (toString $expression.operator) $values) -}}
{{- end -}}
{{- end -}}
{{- join "," $terms -}}
{{- end -}}

{{- /* Labels (a map) as key=value pairs, in key order, or "none". */ -}}
{{- define "preflight.labels-text" -}}
{{- $pairs := list -}}
{{- range $key, $value := . }}{{ $pairs = append $pairs (printf "%s=%s" $key (toString $value)) }}{{ end -}}
{{- if $pairs }}{{ join "," $pairs }}{{ else }}none{{ end -}}
{{- end -}}

{{- /* `pulumi config set --path calico-monitoring:<.setting>.<.key> <.value>`, the key quoted where a path
needs it (app.kubernetes.io/name: labels["app.kubernetes.io/name"]). */ -}}
{{- define "preflight.set-label" -}}
{{- $value := toString .value -}}
{{- if eq $value "" }}{{ $value = "''" }}{{ end -}}
{{- if regexMatch `^[A-Za-z0-9_-]+$` .key -}}
`pulumi config set --path calico-monitoring:{{ .setting }}.{{ .key }} {{ $value }}`
{{- else -}}
`pulumi config set --path 'calico-monitoring:{{ .setting }}["{{ .key }}"]' {{ $value }}`
{{- end -}}
{{- end -}}
