{{/* Chart name, overridable. */}}
{{- define "setwarden.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name prefix of every object. Capped at 52 characters so the longest
suffix ("-selfsigned", 11) keeps names within 63.
*/}}
{{- define "setwarden.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels that select the server pods; never change them on upgrade. */}}
{{- define "setwarden.selectorLabels" -}}
app.kubernetes.io/name: {{ include "setwarden.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "setwarden.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "setwarden.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: admission-webhook
{{- end }}

{{/* The Secret holding the serving certificate. */}}
{{- define "setwarden.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "setwarden.fullname" .)) .Values.tls.secretName }}
{{- end }}

{{/* The Lease that elects the one writer of the self-managed certificate. */}}
{{- define "setwarden.leaseName" -}}
{{- printf "%s-tls" (include "setwarden.fullname" .) }}
{{- end }}

{{/* The serving Certificate of cert-manager mode. */}}
{{- define "setwarden.servingCertificateName" -}}
{{- printf "%s-serving" (include "setwarden.fullname" .) }}
{{- end }}

{{/* The image reference: the digest wins over the tag. */}}
{{- define "setwarden.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Namespaces neither webhook is called for: always kube-system and the release namespace. */}}
{{- define "setwarden.excludedNamespaces" -}}
{{- concat (list "kube-system" .Release.Namespace) .Values.webhook.namespaceSelector.excludeNamespaces | uniq | toJson }}
{{- end }}

{{/*
The PolicyConfig document: .Values.config as written, with apiVersion and
kind, which `setwarden serve --config` and `setwarden check --config` read
alike. Two things are rendered explicitly: the agent selector when omitted
(the default agent label), and the release namespace in
exemptions.namespaces, since the webhooks are never called there; kube-system
and setwarden-system are exempt in every PolicyConfig.
*/}}
{{- define "setwarden.policyConfig" -}}
{{- $doc := deepCopy .Values.config }}
{{- $_ := set $doc "apiVersion" "setwarden.dev/v1alpha1" }}
{{- $_ = set $doc "kind" "PolicyConfig" }}
{{- $agents := get $doc "agents" | default dict }}
{{- $_ = set $agents "selector" (include "setwarden.agentSelector" . | fromJson) }}
{{- $_ = set $doc "agents" $agents }}
{{- $exemptions := get $doc "exemptions" | default dict }}
{{- $exemptNamespaces := get $exemptions "namespaces" | default list }}
{{- if not (has .Release.Namespace (list "kube-system" "setwarden-system")) }}
{{- $exemptNamespaces = prepend $exemptNamespaces .Release.Namespace | uniq }}
{{- end }}
{{- if $exemptNamespaces }}
{{- $_ = set $exemptions "namespaces" $exemptNamespaces }}
{{- end }}
{{- $_ = set $doc "exemptions" $exemptions }}
{{- toYaml $doc }}
{{- end }}

{{/*
Arguments of `setwarden serve`. The self-managed flags name the objects the
server may touch; the chart's RBAC grants exactly those.
*/}}
{{- define "setwarden.serverArgs" -}}
{{- $fullname := include "setwarden.fullname" . -}}
- serve
- --port={{ .Values.webhook.port }}
- --cert-dir=/var/run/setwarden/certs
- --config=/etc/setwarden/config.yaml
- --metrics-bind-address={{ if .Values.metrics.enabled }}:{{ .Values.metrics.port }}{{ else }}0{{ end }}
{{- if and .Values.metrics.enabled .Values.metrics.secure }}
- --metrics-secure
{{- end }}
- --health-probe-bind-address=:{{ .Values.probes.port }}
- --tls-min-version={{ .Values.tls.minVersion }}
- --graceful-shutdown-timeout={{ .Values.gracefulShutdownTimeout }}
- --zap-log-level={{ .Values.log.level }}
- --zap-encoder={{ .Values.log.encoder }}
{{- if eq .Values.tls.mode "self-managed" }}
- --tls-mode=self-managed
- --tls-secret-name={{ include "setwarden.tlsSecretName" . }}
- --tls-secret-namespace={{ .Release.Namespace }}
- --tls-lease-name={{ include "setwarden.leaseName" . }}
- --webhook-config-name={{ $fullname }}
- --service-name={{ $fullname }}
{{- end }}
{{- range .Values.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/*
The agent selector as JSON: config.agents.selector, or the default agent
label when it is omitted (or null), as a PolicyConfig reads it. The default
lives here, not in values.yaml, because Helm merges maps: a default
matchLabels there would be ANDed with every selector an operator sets.
An empty selector {} is refused: in a PolicyConfig it selects every
DaemonSet, but it was this chart's default for the default agent label, and
`helm upgrade --reuse-values` still carries it.
*/}}
{{- define "setwarden.agentSelector" -}}
{{- $agents := .Values.config.agents | default dict }}
{{- $selector := dict }}
{{- if hasKey $agents "selector" }}
{{- $selector = index $agents "selector" }}
{{- end }}
{{- if or (not (hasKey $agents "selector")) (kindIs "invalid" $selector) }}
{{- dict "matchLabels" (dict "setwarden.dev/agent" "true") | toJson }}
{{- else if empty $selector }}
{{- fail "config.agents.selector: {} selects every DaemonSet in a PolicyConfig, but this chart used to read it as the default agent label (setwarden.dev/agent: \"true\"). Remove it (or --set config.agents.selector=null) to keep the default label, or set {matchLabels: {}} to make every DaemonSet an agent" }}
{{- else }}
{{- toJson $selector }}
{{- end }}
{{- end }}

{{/* The ServiceAccount of the server pods: the chart's own, or one named in serviceAccount.name. */}}
{{- define "setwarden.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "setwarden.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
terminationGracePeriodSeconds, unless set: the preStop sleep, then the
graceful-shutdown timeout (a Go duration such as 30s or 1m30s), plus 10
seconds for the process to exit, so the kubelet never kills a server that
is still draining.
*/}}
{{- define "setwarden.terminationGracePeriodSeconds" -}}
{{- with .Values.terminationGracePeriodSeconds }}
{{- . }}
{{- else }}
{{- $unit := dict "h" 3600.0 "m" 60.0 "s" 1.0 "ms" 0.001 "us" 0.000001 "µs" 0.000001 "ns" 0.000000001 }}
{{- $seconds := 0.0 }}
{{- range regexFindAll "[0-9.]+(ns|us|µs|ms|s|m|h)" .Values.gracefulShutdownTimeout -1 }}
{{- $n := regexFind "^[0-9.]+" . }}
{{- $seconds = addf $seconds (mulf (float64 $n) (get $unit (trimPrefix $n .))) }}
{{- end }}
{{- add (ceil $seconds | int) .Values.preStopSleepSeconds 10 }}
{{- end }}
{{- end }}
