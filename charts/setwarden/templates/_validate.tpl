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
{{- if le (int .Values.terminationGracePeriodSeconds) (int .Values.preStopSleepSeconds) }}
{{- fail (printf "terminationGracePeriodSeconds %v must exceed preStopSleepSeconds %v, or the kubelet kills the server before it drains" .Values.terminationGracePeriodSeconds .Values.preStopSleepSeconds) }}
{{- end }}
{{- end }}
