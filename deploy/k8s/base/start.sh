#!/bin/sh
# Starts sluiced in a pod of the Sluice StatefulSet (the container's command; mounted from the
# sluice-config ConfigMap). It adds to sluiced.yaml what depends on the pod:
#   --threads          the container's CPU limit (K8S_CPU_LIMIT, from the downward API), as
#                      sluiced would otherwise start one shard per core of the node
#   TLS listeners      --tls-listen 8883 and --wss-listen 8443 with the certificate, when the
#                      optional Secret sluice-tls (tls.crt, tls.key) is mounted
#   password file      --password-file and --no-allow-anonymous, when the optional Secret
#                      sluice-auth has a key `passwd` (sluice-passwd / mosquitto_passwd format)
# then execs sluiced, so sluiced is PID 1 and gets SIGTERM itself. Extra arguments are passed on.
# SLUICE_CONFIG, SLUICE_SECRETS_DIR and SLUICED override the paths (tests use them).
set -eu
config=${SLUICE_CONFIG:-/etc/sluice/config/sluiced.yaml}
secrets=${SLUICE_SECRETS_DIR:-/etc/sluice/secrets}
set -- --config "$config" "$@"
if [ -n "${K8S_CPU_LIMIT:-}" ]; then
  set -- "$@" --threads="$K8S_CPU_LIMIT"
fi
if [ -s "$secrets/tls.crt" ] && [ -s "$secrets/tls.key" ]; then
  set -- "$@" --tls-listen=0.0.0.0:8883 --wss-listen=0.0.0.0:8443 \
    --tls-cert-file="$secrets/tls.crt" --tls-key-file="$secrets/tls.key"
fi
if [ -s "$secrets/passwd" ]; then
  set -- "$@" --password-file="$secrets/passwd" --no-allow-anonymous
fi
exec "${SLUICED:-sluiced}" "$@"
