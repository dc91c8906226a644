{{/*
The pieces of one SCIS service, shared by templates/<service>/*.yaml:
  {{ include "scis.service.deployment" (dict "ctx" $ "component" "dashboard") }}
*/}}
{{- define "scis.service.values" -}}
{{- $own := index .ctx.Values .component -}}
{{- toYaml (mustMergeOverwrite (deepCopy .ctx.Values.serviceDefaults) (omit $own "enabled" "port" "image")) -}}
{{- end }}

{{- define "scis.service.deployment" -}}
{{- $ctx := .ctx }}
{{- $own := index $ctx.Values .component }}
{{- $svc := fromYaml (include "scis.service.values" .) }}
{{- if $own.enabled }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "scis.componentName" . }}
  labels:
    {{- include "scis.labels" . | nindent 4 }}
spec:
  {{- if not $svc.autoscaling.enabled }}
  replicas: {{ $svc.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      {{- include "scis.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "scis.labels" . | nindent 8 }}
      annotations:
        {{- include "scis.meshAnnotations" (dict "ctx" $ctx "component" .component "port" $own.port) | nindent 8 }}
        {{- with $svc.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "scis.componentName" (dict "ctx" $ctx "component" (ternary "analyser" "services" (eq .component "analyser"))) }}
      automountServiceAccountToken: {{ eq .component "analyser" }}
      enableServiceLinks: false
      {{- include "scis.imagePullSecrets" $ctx | nindent 6 }}
      securityContext:
        {{- toYaml $ctx.Values.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ .component }}
          image: {{ include "scis.image" (dict "ctx" $ctx "image" ($own.image | default dict)) }}
          imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
          command: ["scis"]
          args: ["serve", {{ .component | quote }}]
          ports:
            - name: http
              containerPort: {{ $own.port }}
              protocol: TCP
          env:
            - name: SERVICE
              value: {{ .component | quote }}
            - name: SCIS_HOST
              value: "0.0.0.0"
            - name: POD_IP
              valueFrom:
                fieldRef:
                  fieldPath: status.podIP
            - name: SCIS_ADVERTISE_HOST
              value: {{ include "scis.componentName" . | quote }}
            - name: SCIS_CAPTURE_RUNNER
              value: {{ $ctx.Values.config.captureRunner | quote }}
            {{- if eq .component "analyser" }}
            - name: SCIS_LIVEMONITOR_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            {{- end }}
            {{- if eq .component "database" }}
            # The SQL explorer's own role and pool (scis_explorer); no other service gets it.
            - name: SCIS_EXPLORER_DATABASE_URL
              valueFrom:
                secretKeyRef:
                  name: {{ include "scis.databaseSecret" $ctx }}
                  key: {{ include "scis.explorerDatabaseSecretKey" $ctx }}
            {{- end }}
            {{- include "scis.commonEnv" $ctx | nindent 12 }}
            {{- include "scis.peerEnv" $ctx | nindent 12 }}
          startupProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 2
            failureThreshold: 60
          livenessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: {{ $ctx.Values.probes.periodSeconds }}
            timeoutSeconds: {{ $ctx.Values.probes.timeoutSeconds }}
          readinessProbe:
            httpGet: {path: /readyz, port: http}
            periodSeconds: {{ $ctx.Values.probes.periodSeconds }}
            timeoutSeconds: {{ $ctx.Values.probes.timeoutSeconds }}
            failureThreshold: {{ $ctx.Values.probes.failureThreshold }}
          resources:
            {{- toYaml $svc.resources | nindent 12 }}
          securityContext:
            {{- toYaml $ctx.Values.containerSecurityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        {{- include "scis.tmpVolume" . | nindent 8 }}
      {{- with $svc.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $svc.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $svc.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
{{- end }}

{{- define "scis.service.service" -}}
{{- $own := index .ctx.Values .component }}
{{- if $own.enabled }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "scis.componentName" . }}
  labels:
    {{- include "scis.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "scis.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ $own.port }}
      targetPort: http
      protocol: TCP
{{- end }}
{{- end }}

{{- define "scis.service.hpa" -}}
{{- $own := index .ctx.Values .component }}
{{- $svc := fromYaml (include "scis.service.values" .) }}
{{- if and $own.enabled $svc.autoscaling.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "scis.componentName" . }}
  labels:
    {{- include "scis.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "scis.componentName" . }}
  minReplicas: {{ $svc.autoscaling.minReplicas }}
  maxReplicas: {{ $svc.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $svc.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- end }}

{{- define "scis.service.pdb" -}}
{{- $own := index .ctx.Values .component }}
{{- $svc := fromYaml (include "scis.service.values" .) }}
{{- if and $own.enabled $svc.pdb.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "scis.componentName" . }}
  labels:
    {{- include "scis.labels" . | nindent 4 }}
spec:
  minAvailable: {{ $svc.pdb.minAvailable }}
  selector:
    matchLabels:
      {{- include "scis.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end }}
