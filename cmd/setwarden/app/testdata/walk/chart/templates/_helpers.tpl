{{- define "redis.labels" -}}
app: {{ .Release.Name }}-redis
{{- end -}}
