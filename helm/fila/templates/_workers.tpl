{{/* Checks the workers list once, with messages that name the group. */}}
{{- define "fila.validateWorkers" -}}
{{- $seen := dict -}}
{{- range $i, $g := .Values.workers -}}
{{- if not $g.name -}}
{{- fail (printf "workers[%d]: name is required" $i) -}}
{{- end -}}
{{- if hasKey $seen $g.name -}}
{{- fail (printf "workers[%d]: the group name %q is used twice" $i $g.name) -}}
{{- end -}}
{{- $_ := set $seen $g.name true -}}
{{- if not $g.queues -}}
{{- fail (printf "workers[%s]: queues must name at least one queue" $g.name) -}}
{{- end -}}
{{- $a := $g.autoscaling | default dict -}}
{{- $keda := and $a.keda $a.keda.enabled -}}
{{- $hpa := and $a.hpa $a.hpa.enabled -}}
{{- if and $keda $hpa -}}
{{- fail (printf "workers[%s]: autoscaling.keda.enabled and autoscaling.hpa.enabled are both true; choose one (KEDA creates its own HPA, two autoscalers would fight over the replicas)" $g.name) -}}
{{- end -}}
{{- $h := $g.handler | default dict -}}
{{- if and $h.sidecar (hasKey $h "exec") -}}
{{- fail (printf "workers[%s]: handler.sidecar and handler.exec are both set; choose one per group (a sidecar group's types are HTTP handlers on the sidecar, an exec group's are commands in the worker's image)" $g.name) -}}
{{- end -}}
{{- end -}}
{{- end }}

{{/* Whether a group is autoscaled (the Deployment then leaves replicas to the autoscaler). */}}
{{- define "fila.workerAutoscaled" -}}
{{- $a := .autoscaling | default dict -}}
{{- if or (and $a.keda $a.keda.enabled) (and $a.hpa $a.hpa.enabled) -}}true{{- end -}}
{{- end }}

{{/* A group with workerDefaults filled in for the keys it does not set
     (shallow: a group's resources replace the defaults' whole), as JSON:
     include "fila.workerGroup" (dict "root" $ "group" $g) | fromJson */}}
{{- define "fila.workerGroup" -}}
{{- $w := deepCopy .group -}}
{{- range $k, $v := .root.Values.workerDefaults -}}
{{- if not (hasKey $w $k) -}}
{{- $_ := set $w $k $v -}}
{{- end -}}
{{- end -}}
{{- toJson $w -}}
{{- end }}

{{/* A group's extractBudget as FILA_EXTRACT_* environment entries. */}}
{{- define "fila.extractBudgetEnv" -}}
{{- $names := dict "maxHtmlBytes" "MAX_HTML_BYTES" "maxHtmlElements" "MAX_HTML_ELEMENTS" "maxHtmlDepth" "MAX_HTML_DEPTH" "maxPdfBytes" "MAX_PDF_BYTES" "maxPdfPages" "MAX_PDF_PAGES" "maxTextBytes" "MAX_TEXT_BYTES" "memoryMB" "MEMORY_MB" "cpuSeconds" "CPU_SECONDS" -}}
{{- range $key, $value := (.extractBudget | default dict) }}
- name: FILA_EXTRACT_{{ get $names $key }}
  value: {{ int64 $value | quote }}
{{- end }}
{{- end }}

{{/* An image value as a reference: a full string ("registry/acme/handler:1.2"),
     or the chart's {repository, tag, digest} shape, tag defaulting to the
     chart's appVersion and digest taking precedence over tag:
     include "fila.imageRef" (dict "root" $ "image" $img) */}}
{{- define "fila.imageRef" -}}
{{- if kindIs "string" .image -}}
{{ .image }}
{{- else if .image.digest -}}
{{ .image.repository }}@{{ .image.digest }}
{{- else -}}
{{ .image.repository }}:{{ .image.tag | default .root.Chart.AppVersion }}
{{- end -}}
{{- end }}

{{/* The image of a group's worker container: the group's own (an exec
     group's commands must exist in it: an image built FROM fila's) or the
     chart's. */}}
{{- define "fila.workerImage" -}}
{{- if .group.image -}}
{{ include "fila.imageRef" (dict "root" .root "image" .group.image) }}
{{- else -}}
{{ include "fila.image" .root }}
{{- end -}}
{{- end }}

{{/* The pull policy of an image value, else the chart's. */}}
{{- define "fila.pullPolicy" -}}
{{- if and .image (kindIs "map" .image) .image.pullPolicy -}}
{{ .image.pullPolicy }}
{{- else -}}
{{ .root.Values.image.pullPolicy }}
{{- end -}}
{{- end }}

{{/* The loopback URL of a group's handler sidecar (same pod, same network
     namespace): include "fila.sidecarUrl" $sidecar */}}
{{- define "fila.sidecarUrl" -}}
http://127.0.0.1:{{ int (.port | default 8081) }}
{{- end }}

{{/* Every group's handler.types as `fila types apply` definitions, as JSON
     {"types": [...]}: the chart adds the handler the group runs them with
     (its sidecar's URL plus the type's path, or the type's exec command),
     and the queue (the group's first unless the type names one of the
     group's). Checks each type and fails naming the group and the type. */}}
{{- define "fila.handlerTypes" -}}
{{- $types := list -}}
{{- $names := dict -}}
{{- range $g := .Values.workers -}}
{{- $h := $g.handler | default dict -}}
{{- range $i, $t := $h.types | default list -}}
{{- $at := printf "workers[%s].handler.types[%d]" $g.name $i -}}
{{- if not $t.name -}}
{{- fail (printf "%s: name is required" $at) -}}
{{- end -}}
{{- $at = printf "%s (%s)" $at $t.name -}}
{{- if hasKey $names $t.name -}}
{{- fail (printf "%s: the type %q is defined twice (also in workers[%s])" $at $t.name (get $names $t.name)) -}}
{{- end -}}
{{- $_ := set $names $t.name $g.name -}}
{{- if hasKey $t "handler" -}}
{{- fail (printf "%s: remove the type's handler key: the chart wires it from the group's handler.sidecar (url from the type's path) or handler.exec (the type's command)" $at) -}}
{{- end -}}
{{- $d := omit $t "path" "command" "concurrency" "grace" -}}
{{- $queue := $t.queue | default (first $g.queues) -}}
{{- if not (has $queue $g.queues) -}}
{{- fail (printf "%s: queue %q is not one of the group's queues %s; the group's workers would never take its tasks" $at $queue (toJson $g.queues)) -}}
{{- end -}}
{{- $_ := set $d "queue" $queue -}}
{{- if $h.sidecar -}}
{{- if hasKey $t "command" -}}
{{- fail (printf "%s: command is for exec groups; a sidecar group's type names a path on the sidecar" $at) -}}
{{- end -}}
{{- $path := $t.path | default "/" -}}
{{- if not (hasPrefix "/" $path) -}}
{{- fail (printf "%s: path %q must start with /" $at $path) -}}
{{- end -}}
{{- $http := dict "url" (printf "%s%s" (include "fila.sidecarUrl" $h.sidecar) $path) -}}
{{- if hasKey $t "concurrency" -}}
{{- $_ := set $http "concurrency" (int $t.concurrency) -}}
{{- end -}}
{{- if hasKey $t "grace" -}}
{{- fail (printf "%s: grace is for exec groups" $at) -}}
{{- end -}}
{{- $_ := set $d "handler" (dict "http" $http) -}}
{{- else if hasKey $h "exec" -}}
{{- if hasKey $t "path" -}}
{{- fail (printf "%s: path is for sidecar groups; an exec group's type names its command" $at) -}}
{{- end -}}
{{- if not $t.command -}}
{{- fail (printf "%s: command is required (the argv the worker runs per task, e.g. [python3, /opt/acme/report.py])" $at) -}}
{{- end -}}
{{- $exec := dict "command" $t.command -}}
{{- if hasKey $t "concurrency" -}}
{{- $_ := set $exec "concurrency" (int $t.concurrency) -}}
{{- end -}}
{{- if hasKey $t "grace" -}}
{{- $_ := set $exec "grace" $t.grace -}}
{{- end -}}
{{- $_ := set $d "handler" (dict "exec" $exec) -}}
{{- else -}}
{{- fail (printf "%s: the group has no handler.sidecar or handler.exec to run its types" $at) -}}
{{- end -}}
{{- $types = append $types $d -}}
{{- end -}}
{{- end -}}
{{- toJson (dict "types" $types) -}}
{{- end }}
