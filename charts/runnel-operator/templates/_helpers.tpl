{{/* The release's full name: the release name, with the chart name unless it already holds it. */}}
{{- define "runnel-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels that select the operator's pods. */}}
{{- define "runnel-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every object of the release. */}}
{{- define "runnel-operator.labels" -}}
{{ include "runnel-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: runnel
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "runnel-operator.serviceAccountName" -}}
{{- default (include "runnel-operator.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "runnel-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The namespaces that get worker NetworkPolicies: the watched ones, else networkPolicy.namespaces. */}}
{{- define "runnel-operator.workerNamespaces" -}}
{{- if .Values.watchNamespaces -}}
{{- toJson .Values.watchNamespaces -}}
{{- else -}}
{{- toJson .Values.networkPolicy.namespaces -}}
{{- end -}}
{{- end -}}

{{/*
The permissions the operator uses on the objects of the namespaces it watches: exactly the calls it
makes (test/integration/chart-rbac.test.ts checks each one with its token, and that nothing more is
granted). Secrets: create only — it hands workers their admin token but never reads a Secret.
*/}}
{{- define "runnel-operator.jobRules" -}}
- apiGroups: [runnel.dev]
  resources: [streamjobs, streamsavepoints]
  verbs: [list, watch, patch]
- apiGroups: [runnel.dev]
  resources: [streamjobs/status, streamsavepoints/status]
  verbs: [patch]
# Owner references with blockOwnerDeletion need update on the owner's finalizers where the
# OwnerReferencesPermissionEnforcement admission plugin runs.
- apiGroups: [runnel.dev]
  resources: [streamjobs/finalizers, streamsavepoints/finalizers]
  verbs: [update]
- apiGroups: [apps]
  resources: [statefulsets]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [apps]
  resources: [statefulsets/scale]
  verbs: [patch]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [services]
  verbs: [list, watch, create, patch]
- apiGroups: [""]
  resources: [secrets]
  verbs: [create]
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [list, watch, create, patch]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [list, watch, create, patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create]
{{- end -}}
