{{/* Name of the audit Deployment, ServiceAccount, RBAC and Lease. */}}
{{- define "setwarden.auditName" -}}
{{- printf "%s-audit" (include "setwarden.fullname" .) }}
{{- end }}

{{/*
Labels that select the audit pods. The name differs from the webhook's, so
the webhook's Service, PodDisruptionBudget and NetworkPolicy never select
them.
*/}}
{{- define "setwarden.auditSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-audit" (include "setwarden.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of the audit objects. */}}
{{- define "setwarden.auditLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "setwarden.auditSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: audit
{{- end }}

{{/* Arguments of `setwarden audit --watch`. */}}
{{- define "setwarden.auditArgs" -}}
- audit
- --watch
- --config-from-cluster
- --setwarden-namespace={{ .Release.Namespace }}
- --setwarden-configmap={{ include "setwarden.fullname" . }}-config
- --events={{ .Values.audit.events }}
- --workers={{ .Values.audit.workers }}
- --leader-elect={{ .Values.audit.leaderElection }}
- --leader-election-id={{ include "setwarden.auditName" . }}
- --leader-election-namespace={{ .Release.Namespace }}
- --metrics-bind-address={{ if .Values.metrics.enabled }}:{{ .Values.metrics.port }}{{ else }}0{{ end }}
{{- if and .Values.metrics.enabled .Values.metrics.secure }}
- --metrics-secure
- --tls-min-version={{ .Values.tls.minVersion }}
{{- end }}
- --health-probe-bind-address=:{{ .Values.probes.port }}
- --zap-log-level={{ .Values.log.level }}
- --zap-encoder={{ .Values.log.encoder }}
{{- range .Values.audit.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}
