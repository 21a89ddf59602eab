{{/* The chart name, overridable. */}}
{{- define "idc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of every resource: the release name when it already contains the chart name,
else <release>-<chart>. At most 55 characters, which leaves room for the "-portal" and "-events"
suffixes within 63.
*/}}
{{- define "idc.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 55 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 55 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 55 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "idc.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object of the release. */}}
{{- define "idc.baseLabels" -}}
helm.sh/chart: {{ include "idc.chart" . }}
app.kubernetes.io/name: {{ include "idc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: identity-center-operator
{{- end }}

{{/* Labels on the controller's objects. */}}
{{- define "idc.labels" -}}
{{ include "idc.baseLabels" . }}
app.kubernetes.io/component: controller
{{- end }}

{{/* Labels that select the controller pods (not the portal pods the controller creates). */}}
{{- define "idc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "idc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{/* The controller's ServiceAccount. */}}
{{- define "idc.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "idc.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The ClusterRole that lets the portals (the ServiceAccounts of the release namespace) read the kinds. */}}
{{- define "idc.portalClusterRoleName" -}}
{{- printf "%s-portal" (include "idc.fullname" .) }}
{{- end }}

{{/* The operator image: repository@digest, else repository:tag (tag defaults to appVersion). */}}
{{- define "idc.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The resources of identitycenter.dev the controller and the portal read. */}}
{{- define "idc.kinds" -}}
- identitycenters
- users
- groups
- permissionsets
- accounts
- accountassignments
- applications
- applicationassignments
{{- end }}

{{/* The namespace of the users' credential records: only they live there. */}}
{{- define "idc.credentialsNamespace" -}}
{{- default (printf "%s-credentials" .Release.Namespace) .Values.credentials.namespace }}
{{- end }}

{{/* Every ServiceAccount of the release namespace: the controller's and each portal's. */}}
{{- define "idc.namespaceServiceAccounts" -}}
- kind: Group
  apiGroup: rbac.authorization.k8s.io
  name: system:serviceaccounts:{{ .Release.Namespace }}
{{- end }}
