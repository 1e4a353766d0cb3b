{{/* The release's name for its objects. */}}
{{- define "analytics.name" -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "analytics.labels" -}}
app.kubernetes.io/name: analytics
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: runnel-examples
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/*
The StreamJob: examples/analytics/job.yaml (files/job.yaml, kept equal by a test) with the
values applied.
*/}}
{{- define "analytics.job" -}}
{{- $job := .Files.Get "files/job.yaml" | fromYaml -}}
{{- $_ := set $job "metadata" (dict "name" (include "analytics.name" .) "labels" (include "analytics.labels" . | fromYaml)) -}}
{{- $spec := $job.spec -}}
{{- $_ := set $spec "image" .Values.image -}}
{{- $_ := set $spec "parallelism" (int .Values.parallelism) -}}
{{- $_ := set $spec.kafka "bootstrapServers" .Values.kafka.bootstrapServers -}}
{{- $_ := set $spec.checkpoint "interval" .Values.checkpoint.interval -}}
{{- $_ := set $spec.checkpoint "mode" .Values.checkpoint.mode -}}
{{- $_ := set $spec.savepoint "interval" .Values.savepoint.interval -}}
{{- $_ := set $spec.savepoint.storage "claimName" (default (printf "%s-savepoints" (include "analytics.name" .)) .Values.savepoint.claimName) -}}
{{- range $spec.pipeline.sources -}}
{{- $_ := set .kafka "topic" (printf "%s%s" $.Values.kafka.topicPrefix .kafka.topic) -}}
{{- if hasKey .kafka "partitions" }}{{ $_ := set .kafka "partitions" (int $.Values.kafka.partitions) }}{{ end -}}
{{- if .watermark }}{{ if $.Values.watermark.idleness }}{{ $_ := set .watermark "idleness" $.Values.watermark.idleness }}{{ else }}{{ $_ := unset .watermark "idleness" }}{{ end }}{{ end -}}
{{- end -}}
{{- range $spec.pipeline.sinks -}}
{{- if .kafka }}{{ $_ := set .kafka "topic" (printf "%s%s" $.Values.kafka.topicPrefix .kafka.topic) }}{{ end -}}
{{- if .redis -}}
{{- $_ := set .redis "address" $.Values.redis.address -}}
{{- $_ := set .redis "keyPrefix" (printf "%s%s" $.Values.redis.keyPrefix .redis.keyPrefix) -}}
{{- $_ := set .redis "ttl" $.Values.profiles.ttl -}}
{{- end -}}
{{- end -}}
{{- range $spec.pipeline.steps -}}
{{- if and .lookupJoin .lookupJoin.redis -}}
{{- $_ := set .lookupJoin.redis "address" $.Values.redis.address -}}
{{- $_ := set .lookupJoin.redis "keyPrefix" (printf "%s%s" $.Values.redis.keyPrefix .lookupJoin.redis.keyPrefix) -}}
{{- $_ := set .lookupJoin.redis.cache "ttl" $.Values.dimension.cacheTtl -}}
{{- end -}}
{{- end -}}
{{- toYaml $job -}}
{{- end -}}
