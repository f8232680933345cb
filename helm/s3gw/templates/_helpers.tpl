{{/* Names ------------------------------------------------------------------- */}}
{{- define "s3gw.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "s3gw.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "s3gw.gateway.fullname" -}}{{ include "s3gw.fullname" . | trunc 55 | trimSuffix "-" }}-gateway{{- end -}}
{{- define "s3gw.node.fullname" -}}{{ include "s3gw.fullname" . | trunc 58 | trimSuffix "-" }}-node{{- end -}}

{{- define "s3gw.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "s3gw.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Labels ------------------------------------------------------------------ */}}
{{- define "s3gw.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "s3gw.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "s3gw.selectorLabels" -}}
app.kubernetes.io/name: {{ include "s3gw.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "s3gw.gateway.selectorLabels" -}}
{{ include "s3gw.selectorLabels" . }}
app.kubernetes.io/component: gateway
{{- end -}}

{{- define "s3gw.node.selectorLabels" -}}
{{ include "s3gw.selectorLabels" . }}
app.kubernetes.io/component: storage-node
{{- end -}}

{{- define "s3gw.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Storage node URLs: one per StatefulSet pod, through the headless Service. */}}
{{- define "s3gw.nodeURLs" -}}
{{- $node := include "s3gw.node.fullname" . -}}
{{- $urls := list -}}
{{- range $i := until (int .Values.nodes.replicas) -}}
{{- $scheme := ternary "https" "http" $.Values.nodes.tls.enabled -}}
{{- $urls = append $urls (printf "%s://%s-%d.%s.%s.svc.cluster.local:%d" $scheme $node $i $node $.Release.Namespace (int $.Values.nodes.port)) -}}
{{- end -}}
{{- toJson $urls -}}
{{- end -}}

{{/* "true" when config.security.encryption.encryption_in_transit is set: every hop TLS, HTTPS only. */}}
{{- define "s3gw.inTransit" -}}
{{- $sec := (.Values.config.security | default dict) -}}
{{- if ($sec.encryption | default dict).encryption_in_transit -}}true{{- end -}}
{{- end -}}

{{/*
A probe (dict "probe" P "https" BOOL "port" NAME): over HTTPS when the server it probes serves
only HTTPS; a probe on port "http" moves to NAME (the gateway's https port).
*/}}
{{- define "s3gw.probe" -}}
{{- $p := deepCopy .probe -}}
{{- if and .https $p.httpGet -}}
{{- $_ := set $p.httpGet "scheme" "HTTPS" -}}
{{- if and .port (eq (toString $p.httpGet.port) "http") -}}
{{- $_ := set $p.httpGet "port" .port -}}
{{- end -}}
{{- end -}}
{{- toYaml $p -}}
{{- end -}}

{{/* Where the Secrets are mounted (a projected volume, read-only). */}}
{{- define "s3gw.secretsDir" -}}/etc/s3gw/secrets{{- end -}}

{{/*
The server's config.yaml: the user's .Values.config (the file `s3gw serve --config`
reads), with what only the chart knows merged over it.
*/}}
{{- define "s3gw.config" -}}
{{- $dir := include "s3gw.secretsDir" . -}}
{{- $chart := dict
  "server" (dict "host" "0.0.0.0" "port" (int .Values.gateway.containerPort))
  "storage" (dict "nodes" (include "s3gw.nodeURLs" . | fromJsonArray) "secret_file" (printf "%s/cluster-secret" $dir))
  "database" (dict "driver" "postgres" "host" .Values.postgresql.host "port" (int .Values.postgresql.port)
                   "name" .Values.postgresql.database "user" .Values.postgresql.username
                   "sslmode" .Values.postgresql.sslmode "password_file" (printf "%s/db-password" $dir))
  "security" (dict "root_user_file" (printf "%s/root-user" $dir) "root_password_file" (printf "%s/root-password" $dir))
-}}
{{- if .Values.postgresql.caSecret.name -}}
{{- $_ := set $chart.database "ca_file" (printf "%s/db-ca.crt" $dir) -}}
{{- end -}}
{{- if .Values.nodes.tls.enabled -}}
{{- $_ := set $chart.storage "node_ca_file" (printf "%s/node-ca.crt" $dir) -}}
{{- end -}}
{{- if .Values.redis.enabled -}}
{{- $redis := dict "endpoints" .Values.redis.endpoints "tls" .Values.redis.tls -}}
{{- if and .Values.redis.tls .Values.redis.caSecret.name -}}
{{- $_ := set $redis "ca_file" (printf "%s/redis-ca.crt" $dir) -}}
{{- end -}}
{{- if .Values.redis.auth.enabled -}}
{{- $_ := set $redis "password_file" (printf "%s/redis-password" $dir) -}}
{{- end -}}
{{- $_ := set $chart "cache" (dict "redis" $redis) -}}
{{- end -}}
{{- if .Values.tls.enabled -}}
{{- $_ := set $chart.server "tls_port" (int .Values.tls.port) -}}
{{- $_ := set $chart.security "tls" (dict "cert_file" "/etc/s3gw/tls/tls.crt" "key_file" "/etc/s3gw/tls/tls.key" "reload_interval" .Values.tls.reloadInterval) -}}
{{- end -}}
{{- mustMergeOverwrite (deepCopy .Values.config) $chart | toYaml -}}
{{- end -}}

{{/* Refuse values that cannot work, with a message that says why. */}}
{{- define "s3gw.validate" -}}
{{- $ec := (.Values.config.storage | default dict).erasure_coding | default dict -}}
{{- $k := int (default 6 $ec.data_shards) -}}
{{- $m := int (default 3 $ec.parity_shards) -}}
{{- $drives := mul (int .Values.nodes.replicas) (int .Values.nodes.drivesPerNode) -}}
{{- if lt (int $drives) (add $k $m) -}}
{{- fail (printf "nodes.replicas x nodes.drivesPerNode = %d drives, but %d+%d erasure coding needs at least %d" (int $drives) $k $m (add $k $m)) -}}
{{- end -}}
{{- if and .Values.gateway.autoscaling.enabled (gt (int .Values.gateway.autoscaling.minReplicas) (int .Values.gateway.autoscaling.maxReplicas)) -}}
{{- fail "gateway.autoscaling.minReplicas is larger than maxReplicas" -}}
{{- end -}}
{{- range $key := list "database" "cache" "security" -}}
{{- range $secret := list "password" "root_user" "root_password" -}}
{{- if hasKey (get $.Values.config $key | default dict) $secret -}}
{{- fail (printf "config.%s.%s: secrets never go in values; name an existingSecret instead" $key $secret) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if include "s3gw.inTransit" . -}}
{{- $plain := list -}}
{{- if not .Values.tls.enabled -}}{{- $plain = append $plain "tls.enabled (HTTPS on the gateways)" -}}{{- end -}}
{{- if not .Values.nodes.tls.enabled -}}{{- $plain = append $plain "nodes.tls.enabled (HTTPS on the storage nodes)" -}}{{- end -}}
{{- if has .Values.postgresql.sslmode (list "disable" "allow" "prefer") -}}
{{- $plain = append $plain (printf "postgresql.sslmode require, verify-ca or verify-full (not %s)" .Values.postgresql.sslmode) -}}
{{- end -}}
{{- if and .Values.redis.enabled (not .Values.redis.tls) -}}{{- $plain = append $plain "redis.tls" -}}{{- end -}}
{{- if $plain -}}
{{- fail (printf "config.security.encryption.encryption_in_transit: every hop must be TLS; also set %s" (join ", " $plain)) -}}
{{- end -}}
{{- end -}}
{{- if hasKey ((.Values.config.cache | default dict).redis | default dict) "password" -}}
{{- fail "config.cache.redis.password: secrets never go in values; set redis.auth.existingSecret instead" -}}
{{- end -}}
{{- end -}}

{{/* Metrics authentication (docs/operations.md): the mode, and the static token as a file. */}}
{{- define "s3gw.metricsEnv" -}}
- name: S3GW_METRICS_AUTH
  value: {{ .Values.metrics.auth | quote }}
{{- if .Values.metrics.tokenSecret.name }}
- name: S3GW_METRICS_TOKEN_FILE
  value: {{ include "s3gw.secretsDir" . }}/metrics-token
{{- end }}
{{- end -}}

{{/* The CA bundles the gateway verifies others with, as files of the secrets volume. */}}
{{- define "s3gw.caSources" -}}
{{- if .Values.nodes.tls.enabled }}
- secret:
    name: {{ .Values.nodes.tls.existingSecret }}
    items:
      - key: {{ .Values.nodes.tls.caKey }}
        path: node-ca.crt
{{- end }}
{{- with .Values.postgresql.caSecret }}
{{- if .name }}
- secret:
    name: {{ .name }}
    items:
      - key: {{ .key }}
        path: db-ca.crt
{{- end }}
{{- end }}
{{- if and .Values.redis.enabled .Values.redis.tls .Values.redis.caSecret.name }}
- secret:
    name: {{ .Values.redis.caSecret.name }}
    items:
      - key: {{ .Values.redis.caSecret.key }}
        path: redis-ca.crt
{{- end }}
{{- end -}}

{{- define "s3gw.metricsTokenSource" -}}
{{- if .Values.metrics.tokenSecret.name -}}
- secret:
    name: {{ .Values.metrics.tokenSecret.name }}
    items:
      - key: {{ .Values.metrics.tokenSecret.key }}
        path: metrics-token
{{- end -}}
{{- end -}}
