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
