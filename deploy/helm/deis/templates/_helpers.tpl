{{/*
Names. Every object is named <release>-<component> in the release's namespace, so a second
`helm upgrade` (whatever the values) renders the same names.
*/}}
{{- define "deis.name" -}}
{{- printf "%s-%s" .root.Release.Name .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "deis.credentials" -}}
{{- if .Values.credentials.existingSecret -}}
{{- .Values.credentials.existingSecret -}}
{{- else -}}
{{- printf "%s-credentials" .Release.Name -}}
{{- end -}}
{{- end -}}

{{/* A Service's cluster DNS name: <release>-<component>.<namespace>.svc.<clusterDomain> */}}
{{- define "deis.host" -}}
{{- printf "%s-%s.%s.svc.%s" .root.Release.Name .component .root.Release.Namespace .root.Values.clusterDomain -}}
{{- end -}}

{{/* The labels a component's pods are selected by. */}}
{{- define "deis.selectorLabels" -}}
app.kubernetes.io/name: deis
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "deis.labels" -}}
{{ include "deis.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "deis.image" -}}
{{- printf "%s%s:%s" .root.Values.images.registry (index .root.Values.images .image) .root.Values.images.tag -}}
{{- end -}}

{{- define "deis.pullSecrets" -}}
{{- with .Values.images.pullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* nodeSelector and tolerations of a plane. */}}
{{- define "deis.placement" -}}
{{- $plane := index .root.Values.planes .plane -}}
{{- with $plane.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $plane.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The pod-level security context of the platform's pods: never root. */}}
{{- define "deis.podSecurity" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: {{ .user | default 1000 }}
  runAsGroup: {{ .user | default 1000 }}
  fsGroup: {{ .user | default 1000 }}
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{/* A container's security context: no privilege, no capability, read-only root. */}}
{{- define "deis.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: [ALL]
{{- end -}}

{{/* The environment every platform service reads. */}}
{{- define "deis.commonEnv" -}}
- name: DEIS_ENVIRONMENT
  value: production
- name: DEIS_LOG_JSON
  value: "true"
- name: DEIS_LOG_LEVEL
  value: {{ .level | default "INFO" | quote }}
{{- if .domain }}
- name: DEIS_PLATFORM_DOMAIN
  value: {{ .root.Values.platformDomain | quote }}
{{- end }}
- name: DEIS_JETSTREAM_REPLICAS
  value: {{ min 3 .root.Values.nats.replicas | quote }}
{{- end -}}

{{/* The password of the service's NATS user, then the URL naming it. */}}
{{- define "deis.natsEnv" -}}
- name: NATS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "deis.credentials" .root }}
      key: nats-{{ .user }}-password
- name: DEIS_NATS_URL
  value: {{ printf "nats://%s:$(NATS_PASSWORD)@%s:4222" .user (include "deis.host" (dict "root" .root "component" "nats")) | quote }}
{{- end -}}

{{/* The service's PostgreSQL URL: its own role on the bundled server, or the external URL. */}}
{{- define "deis.databaseEnv" -}}
{{- if .root.Values.postgres.enabled }}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "deis.credentials" .root }}
      key: postgres-{{ .service }}-password
- name: DEIS_DATABASE_URL
  value: {{ printf "postgresql://deis_%s:$(DATABASE_PASSWORD)@%s:5432/postgres" .service (include "deis.host" (dict "root" .root "component" "postgres")) | quote }}
{{- else if .root.Values.externalDatabase.existingSecret }}
- name: DEIS_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.externalDatabase.existingSecret }}
      key: {{ .service }}
{{- else }}
- name: DEIS_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "deis.credentials" .root }}
      key: external-database-url
{{- end }}
{{- end -}}

{{/* The object store: the bundled S3 server or the external endpoint. */}}
{{- define "deis.objectStoreEnv" -}}
- name: DEIS_OBJECT_STORE
  value: s3
{{- if .Values.s3.enabled }}
- name: DEIS_S3_ENDPOINT_URL
  value: {{ printf "http://%s:9000" (include "deis.host" (dict "root" . "component" "s3")) | quote }}
- name: DEIS_S3_BUCKET
  value: deis
- name: DEIS_S3_REGION
  value: us-east-1
- name: DEIS_S3_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "deis.credentials" . }}
      key: s3-access-key-id
- name: DEIS_S3_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "deis.credentials" . }}
      key: s3-secret-access-key
{{- else }}
{{- with .Values.externalS3.endpoint }}
- name: DEIS_S3_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
- name: DEIS_S3_BUCKET
  value: {{ .Values.externalS3.bucket | quote }}
- name: DEIS_S3_REGION
  value: {{ .Values.externalS3.region | quote }}
{{- with .Values.externalS3.existingSecret }}
- name: DEIS_S3_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: accessKeyId
- name: DEIS_S3_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: secretAccessKey
{{- end }}
{{- end }}
{{- end -}}

{{/* /healthz and /readyz on the health port, as probes. */}}
{{- define "deis.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: {{ .port }}}
  periodSeconds: 2
  failureThreshold: 60
livenessProbe:
  httpGet: {path: /healthz, port: {{ .port }}}
  periodSeconds: 10
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: {{ .port }}}
  periodSeconds: 3
  failureThreshold: 2
{{- end -}}
