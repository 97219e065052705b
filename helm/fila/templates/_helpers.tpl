{{/* Names. Kubernetes names are at most 63 characters. */}}
{{- define "fila.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fila.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "fila.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The standard labels of every object. */}}
{{- define "fila.labels" -}}
helm.sh/chart: {{ include "fila.chart" . }}
{{ include "fila.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fila
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels never change across upgrades (selectors are immutable). */}}
{{- define "fila.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fila.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels and selector of one component: pass (dict "root" $ "component" "scheduler" "group" "").
     A worker group adds fila.group so that each Deployment selects only its own pods. */}}
{{- define "fila.componentSelectorLabels" -}}
{{ include "fila.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- if .group }}
fila-worker-group: {{ .group }}
{{- end }}
{{- end }}

{{- define "fila.componentLabels" -}}
{{ include "fila.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- if .group }}
fila-worker-group: {{ .group }}
{{- end }}
{{- end }}

{{- define "fila.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end -}}
{{- end }}

{{- define "fila.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fila.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The worker Deployment of a group: pass (dict "root" $ "group" $group). */}}
{{- define "fila.workerName" -}}
{{- printf "%s-worker-%s" (include "fila.fullname" .root) .group.name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Seconds Kubernetes waits between SIGTERM and SIGKILL for a worker group:
     the drain budget plus a margin for the abandon grace of a handler that
     ignores its cancel (5 s), handing back what still runs and committing
     the last finishes. An explicit value must leave at least 10 s. */}}
{{- define "fila.workerGracePeriod" -}}
{{- $drain := int (include "fila.workerDrain" .) -}}
{{- if .group.terminationGracePeriodSeconds -}}
{{- $grace := int .group.terminationGracePeriodSeconds -}}
{{- if lt $grace (add $drain 10) -}}
{{- fail (printf "workers[%s]: terminationGracePeriodSeconds %d must be at least drainTimeoutSeconds %d + 10, or Kubernetes kills tasks that are still draining" .group.name $grace $drain) -}}
{{- end -}}
{{- $grace -}}
{{- else -}}
{{- add $drain (int .group.shutdownMarginSeconds) -}}
{{- end -}}
{{- end }}

{{/* The drain budget (fila-worker --drain-timeout) of a group (merged with workerDefaults). */}}
{{- define "fila.workerDrain" -}}
{{- int .group.drainTimeoutSeconds -}}
{{- end }}

{{/* The RabbitMQ queue a logical queue lives in. */}}
{{- define "fila.amqpQueue" -}}
fila.{{ . }}
{{- end }}

{{/* Secret-backed environment shared by every fila container. */}}
{{- define "fila.secretEnv" -}}
- name: FILA_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "database.existingSecret: name an existing Secret holding the PostgreSQL URL (see NOTES)" .Values.database.existingSecret }}
      key: {{ .Values.database.secretKey }}
- name: FILA_AMQP_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "amqp.existingSecret: name an existing Secret holding the RabbitMQ URL (see NOTES)" .Values.amqp.existingSecret }}
      key: {{ .Values.amqp.secretKey }}
{{- end }}

{{/* Container securityContext of every fila container. */}}
{{- define "fila.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: {{ .Values.podSecurityContext.runAsUser }}
runAsGroup: {{ .Values.podSecurityContext.runAsGroup }}
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Probes on the metrics port: alive is /healthz; ready is /readyz (false
     while PostgreSQL or RabbitMQ is unreachable, or a worker drains). */}}
{{- define "fila.probes" -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: metrics
  periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
  timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
  failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
readinessProbe:
  httpGet:
    path: /readyz
    port: metrics
  periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
  timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
  failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
{{- end }}

{{/* sha256 of the ConfigMap: a changed setting rolls the pods. */}}
{{- define "fila.configChecksum" -}}
{{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- end }}

{{/* Spread a component's pods over nodes unless the values say otherwise
     (soft: a one-node cluster still schedules them):
     (dict "constraints" $list "selector" (dict "root" $ "component" ... "group" ...)). */}}
{{- define "fila.topologySpread" -}}
{{- if .constraints }}
topologySpreadConstraints:
  {{- toYaml .constraints | nindent 2 }}
{{- else }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "fila.componentSelectorLabels" .selector | nindent 8 }}
{{- end }}
{{- end }}

{{/* Environment of the migration hook's containers: no ConfigMap (a hook
     runs before the release's objects exist), the database URL from its Secret. */}}
{{- define "fila.migrateEnv" -}}
- name: FILA_LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
- name: FILA_LOG_FORMAT
  value: {{ .Values.config.logFormat | quote }}
- name: FILA_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "database.existingSecret: name an existing Secret holding the PostgreSQL URL (see NOTES)" .Values.database.existingSecret }}
      key: {{ .Values.database.secretKey }}
{{- end }}

{{/* The migration hook's `fila migrate up` container (its only container,
     or the init container before `fila types apply`). */}}
{{- define "fila.migrateContainer" -}}
- name: migrate
  image: {{ include "fila.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command: [fila, migrate, up]
  env:
    {{- include "fila.migrateEnv" . | nindent 4 }}
  securityContext:
    {{- include "fila.containerSecurityContext" . | nindent 4 }}
  resources:
    {{- toYaml .Values.migrations.resources | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
{{- end }}
