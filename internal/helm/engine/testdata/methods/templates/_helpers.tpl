{{- define "methods.name" -}}{{ .Chart.Name }}-{{ .Values.sub.x | default "none" }}{{- end -}}
