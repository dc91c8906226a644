{{/* Names: DNS labels, truncated to 63 characters. */}}
{{- define "scis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "scis.fullname" -}}
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

{{/* The name of one component: scis.componentName (dict "ctx" $ "component" "analyser"). */}}
{{- define "scis.componentName" -}}
{{- printf "%s-%s" (include "scis.fullname" .ctx | trunc (int (sub 62 (len .component)))) .component | trimSuffix "-" }}
{{- end }}

{{- define "scis.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: immutable, so only name, instance and component. */}}
{{- define "scis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scis.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "scis.labels" -}}
helm.sh/chart: {{ include "scis.chart" .ctx }}
{{ include "scis.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: scis
{{- end }}

{{/* image reference: scis.image (dict "ctx" $ "image" .Values.x.image) with registry/repository/tag defaults. */}}
{{- define "scis.image" -}}
{{- $registry := default .ctx.Values.image.registry .image.registry -}}
{{- if .ctx.Values.global.imageRegistry }}{{ $registry = .ctx.Values.global.imageRegistry }}{{ end -}}
{{- $repository := default .ctx.Values.image.repository .image.repository -}}
{{- $tag := default (default .ctx.Chart.AppVersion .ctx.Values.image.tag) .image.tag -}}
{{- if $registry }}{{ printf "%s/%s:%s" $registry $repository $tag }}{{ else }}{{ printf "%s:%s" $repository $tag }}{{ end -}}
{{- end }}

{{- define "scis.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end }}

{{/* The SCIS services, in port order. */}}
{{- define "scis.serviceNames" -}}
frontend dashboard analyser profiles lives create database reports
{{- end }}

{{- define "scis.secretName" -}}
{{- if .Values.secretKey.existingSecret }}{{ .Values.secretKey.existingSecret }}{{ else }}{{ include "scis.componentName" (dict "ctx" . "component" "secrets") }}{{ end -}}
{{- end }}

{{/* embedded, external or cloudnativepg; postgresql.enabled=false (older values files) means external. */}}
{{- define "scis.postgresqlMode" -}}
{{- if not .Values.postgresql.enabled }}external{{ else }}{{ .Values.postgresql.mode }}{{ end -}}
{{- end }}

{{/* The CloudNativePG Cluster; its read-write Service is this name with -rw. */}}
{{- define "scis.cnpgCluster" -}}
{{ include "scis.componentName" (dict "ctx" . "component" "postgresql") }}
{{- end }}

{{- define "scis.databaseSecret" -}}
{{- if ne (include "scis.postgresqlMode" .) "external" }}{{ include "scis.componentName" (dict "ctx" . "component" "secrets") }}{{ else }}{{ required "postgresql.external.existingSecret is required when postgresql.enabled is false or postgresql.mode is external" .Values.postgresql.external.existingSecret }}{{ end -}}
{{- end }}

{{- define "scis.databaseSecretKey" -}}
{{- if ne (include "scis.postgresqlMode" .) "external" }}database-url{{ else }}{{ .Values.postgresql.external.existingSecretKey }}{{ end -}}
{{- end }}

{{- define "scis.migrationDatabaseSecretKey" -}}
{{- if ne (include "scis.postgresqlMode" .) "external" }}migration-database-url{{ else }}{{ .Values.postgresql.external.migrationSecretKey }}{{ end -}}
{{- end }}

{{- define "scis.explorerDatabaseSecretKey" -}}
{{- if ne (include "scis.postgresqlMode" .) "external" }}explorer-database-url{{ else }}{{ .Values.postgresql.external.explorerSecretKey }}{{ end -}}
{{- end }}

{{- define "scis.redisSecret" -}}
{{- if .Values.redis.enabled }}{{ include "scis.componentName" (dict "ctx" . "component" "secrets") }}{{ else }}{{ required "redis.external.existingSecret is required when redis.enabled is false" .Values.redis.external.existingSecret }}{{ end -}}
{{- end }}

{{- define "scis.redisSecretKey" -}}
{{- if .Values.redis.enabled }}redis-url{{ else }}{{ .Values.redis.external.existingSecretKey }}{{ end -}}
{{- end }}

{{/*
Peer addresses for static discovery: SCIS_<SERVICE>_PORT and SCIS_<SERVICE>_SERVICE_URL of every service
(_SERVICE_URL, since SCIS_DATABASE_URL is PostgreSQL's and the explorer service is named database),
pointing at its Service DNS name, or at the local Consul upstream (port + 10000) when the mesh runs
without transparent proxy.
*/}}
{{- define "scis.peerEnv" -}}
{{- $ctx := . }}
{{- range $service := splitList " " (include "scis.serviceNames" .) }}
{{- $values := index $ctx.Values $service }}
- name: SCIS_{{ upper $service }}_PORT
  value: {{ $values.port | quote }}
{{- if and $ctx.Values.mesh.enabled (not $ctx.Values.mesh.transparentProxy) }}
- name: SCIS_{{ upper $service }}_SERVICE_URL
  value: {{ printf "http://127.0.0.1:%v" (add 10000 $values.port) | quote }}
{{- else }}
- name: SCIS_{{ upper $service }}_SERVICE_URL
  value: {{ printf "http://%s:%v" (include "scis.componentName" (dict "ctx" $ctx "component" $service)) $values.port | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* The address browsers use: config.publicUrl, else the Ingress host (https when its TLS is on). */}}
{{- define "scis.publicUrl" -}}
{{- if .Values.config.publicUrl }}{{ .Values.config.publicUrl }}{{ else }}{{ ternary "https" "http" .Values.ingress.tls.enabled }}://{{ .Values.ingress.host }}{{ end -}}
{{- end }}

{{/* Environment shared by every SCIS process (services, migrations, captures). */}}
{{- define "scis.commonEnv" -}}
- name: SCIS_ENV
  value: {{ .Values.config.env | quote }}
- name: SCIS_LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
- name: SCIS_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "scis.databaseSecret" . }}
      key: {{ include "scis.databaseSecretKey" . }}
- name: SCIS_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "scis.redisSecret" . }}
      key: {{ include "scis.redisSecretKey" . }}
- name: SCIS_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "scis.secretName" . }}
      key: {{ if .Values.secretKey.existingSecret }}{{ .Values.secretKey.existingSecretKey }}{{ else }}secret-key{{ end }}
- name: SCIS_DISCOVERY
  value: {{ .Values.config.discovery | quote }}
- name: SCIS_PUBLIC_URL
  value: {{ include "scis.publicUrl" . | quote }}
- name: SCIS_TRUSTED_PROXIES
  value: {{ .Values.config.trustedProxies | quote }}
- name: SCIS_API_DOCS
  value: {{ .Values.config.apiDocs | quote }}
{{- if eq .Values.config.discovery "consul" }}
{{- if .Values.config.consulUrl }}
- name: SCIS_CONSUL_URL
  value: {{ .Values.config.consulUrl | quote }}
{{- else }}
- name: HOST_IP
  valueFrom:
    fieldRef:
      fieldPath: status.hostIP
- name: SCIS_CONSUL_URL
  value: "http://$(HOST_IP):8500"
{{- end }}
{{- end }}
{{- if .Values.simulator.enabled }}
- name: SCIS_TIKTOK_BASE_URL
  value: {{ printf "http://%s:%v" (include "scis.componentName" (dict "ctx" . "component" "simulator")) .Values.simulator.port | quote }}
- name: SCIS_WEBCAST_BASE_URL
  value: {{ printf "http://%s:%v" (include "scis.componentName" (dict "ctx" . "component" "simulator")) .Values.simulator.port | quote }}
{{- else }}
- name: SCIS_TIKTOK_BASE_URL
  value: {{ .Values.config.tiktokBaseUrl | quote }}
- name: SCIS_WEBCAST_BASE_URL
  value: {{ .Values.config.webcastBaseUrl | quote }}
{{- end }}
{{- if has .Values.video.store (list "s3" "bundled") }}
{{- $s3 := .Values.video.s3 }}
{{- $endpoint := $s3.endpoint }}
{{- $secret := dict "name" $s3.existingSecret "accessKey" $s3.accessKeyKey "secretKey" $s3.secretKeyKey }}
{{- if eq .Values.video.store "bundled" }}
{{- $store := include "scis.componentName" (dict "ctx" . "component" "video-store") }}
{{- $endpoint = printf "http://%s:%v" $store .Values.video.bundled.port }}
{{- $secret = dict "name" $store "accessKey" "access-key" "secretKey" "secret-key" }}
{{- else if not (and $s3.endpoint $s3.existingSecret) }}
{{- fail "video.store=s3 needs video.s3.endpoint and video.s3.existingSecret (a Secret with the access key id and secret); or use video.store=bundled to run a store in the chart" }}
{{- end }}
- name: SCIS_VIDEO_STORE
  value: s3
- name: SCIS_VIDEO_S3_ENDPOINT
  value: {{ $endpoint | quote }}
- name: SCIS_VIDEO_S3_BUCKET
  value: {{ $s3.bucket | quote }}
- name: SCIS_VIDEO_S3_REGION
  value: {{ $s3.region | quote }}
- name: SCIS_VIDEO_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $secret.name }}
      key: {{ $secret.accessKey }}
- name: SCIS_VIDEO_S3_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $secret.name }}
      key: {{ $secret.secretKey }}
{{- end }}
{{- with .Values.video.iceServers }}
- name: SCIS_WEBRTC_ICE_SERVERS
  value: {{ join "," . | quote }}
{{- end }}
- name: HOME
  value: /tmp
{{- with .Values.config.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Consul Connect annotations, when the mesh is on: scis.meshAnnotations (dict "ctx" $ "component" "x" "port" 3001). */}}
{{- define "scis.meshAnnotations" -}}
{{- if .ctx.Values.mesh.enabled }}
consul.hashicorp.com/connect-inject: "true"
consul.hashicorp.com/connect-service: {{ include "scis.componentName" . | quote }}
{{- if .port }}
consul.hashicorp.com/connect-service-port: {{ .port | quote }}
{{- end }}
consul.hashicorp.com/transparent-proxy: {{ .ctx.Values.mesh.transparentProxy | quote }}
{{- if not .ctx.Values.mesh.transparentProxy }}
{{- $ctx := .ctx }}
{{- $upstreams := list }}
{{- $self := .component }}
{{- range $i, $service := splitList " " (include "scis.serviceNames" $ctx) }}
{{- if ne $service $self }}
{{- $upstreams = append $upstreams (printf "%s:%v" (include "scis.componentName" (dict "ctx" $ctx "component" $service)) (add 10000 (index $ctx.Values $service).port)) }}
{{- end }}
{{- end }}
consul.hashicorp.com/connect-service-upstreams: {{ join "," $upstreams | quote }}
{{- end }}
{{- else }}
consul.hashicorp.com/connect-inject: "false"
{{- end }}
{{- end }}

{{- define "scis.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 512Mi
{{- end }}
