{{/*
Checks across values that values.schema.json cannot express. Each message
names the keys to change.
*/}}
{{- define "setwarden.validate" -}}
{{- $ports := dict }}
{{- $_ := set $ports (toString .Values.webhook.port) "webhook.port" }}
{{- if hasKey $ports (toString .Values.probes.port) }}
{{- fail (printf "probes.port %v is also webhook.port; give each server its own port" .Values.probes.port) }}
{{- end }}
{{- $_ = set $ports (toString .Values.probes.port) "probes.port" }}
{{- if and .Values.metrics.enabled (hasKey $ports (toString .Values.metrics.port)) }}
{{- fail (printf "metrics.port %v is also %s; give each server its own port" .Values.metrics.port (get $ports (toString .Values.metrics.port))) }}
{{- end }}
{{- if and .Values.terminationGracePeriodSeconds (le (int .Values.terminationGracePeriodSeconds) (int .Values.preStopSleepSeconds)) }}
{{- fail (printf "terminationGracePeriodSeconds %v must exceed preStopSleepSeconds %v, or the kubelet kills the server before it drains" .Values.terminationGracePeriodSeconds .Values.preStopSleepSeconds) }}
{{- end }}
{{- if not (or .Values.webhook.enabled .Values.nativePolicies.enabled) }}
{{- fail "webhook.enabled=false installs only the native policies: set nativePolicies.enabled=true too" }}
{{- end }}
{{- if .Values.nativePolicies.enabled }}
{{- $c := .Values.config }}
{{- $defaultTaints := list (dict "key" "node-role.kubernetes.io/control-plane" "effect" "NoSchedule") (dict "key" "node-role.kubernetes.io/master" "effect" "NoSchedule") }}
{{- if or $c.agents.selector $c.agents.namespaces (ne (toJson $c.controlPlaneTaints) (toJson $defaultTaints)) }}
{{- fail "nativePolicies.enabled renders the policies for the default agents and controlPlaneTaints; with config.agents or config.controlPlaneTaints set, apply `setwarden export --config` instead (docs/export.md)" }}
{{- end }}
{{- range $id, $rc := $c.rules }}
{{- if or (get $rc "namespaces") (not (has (toString (get $rc "action")) (list "Off" "false"))) }}
{{- fail (printf "nativePolicies.enabled follows config.rules only to turn a rule \"Off\" everywhere; for config.rules.%s apply `setwarden export --config` instead (docs/export.md)" $id) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
