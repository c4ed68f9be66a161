#!/bin/sh
# Refuses to let the compose stack start with the placeholders of .env.example, or with secrets
# that are empty, short or would break the URLs they are put into. compose.yaml runs it as the
# "preflight" service and every other service waits for it to succeed. deploy/center/compose.yaml
# runs it too, with its own list of secrets (PREFLIGHT_NAMES) and .env (PREFLIGHT_ENV_FILE).
# POSIX sh (busybox in the container; dash or bash elsewhere): sh preflight.sh  (with the .env exported)
set -u
fail=0

# Values that end up inside mqtt:// and postgresql:// URLs, or that are plain secrets.
names=${PREFLIGHT_NAMES:-"POSTGRES_USER MQTT_CONSOLE_USER INFLUX_ADMIN_USER GRAFANA_ADMIN_USER
  POSTGRES_PASSWORD MQTT_CONSOLE_PASSWORD INFLUX_ADMIN_PASSWORD INFLUX_TOKEN GRAFANA_ADMIN_PASSWORD"}
env_file=${PREFLIGHT_ENV_FILE:-deploy/compose/.env}

complain() {
  echo "preflight: $1" >&2
  fail=1
}

for name in $names; do
  eval "value=\${$name:-}"
  if [ -z "$value" ]; then
    complain "$name is not set"
    continue
  fi
  lower=$(printf '%s' "$value" | tr 'A-Z' 'a-z')
  case "$lower" in
    *change-me*|*changeme*|*change_me*)
      complain "$name still holds the placeholder from .env.example: change it (see deploy/README.md)" ;;
  esac
  case "$value" in
    *[!A-Za-z0-9._~-]*)
      complain "$name may only hold letters, digits and . _ ~ - (it is put into URLs); use e.g. openssl rand -hex 24" ;;
  esac
  case "$name" in
    *PASSWORD|*TOKEN)
      if [ "${#value}" -lt 16 ]; then
        complain "$name is shorter than 16 characters"
      fi ;;
  esac
done

# The broker's files (compose.yaml mounts ./broker at $BROKER_FILES): without them Mosquitto
# cannot start, and Docker would make an empty directory where the console expects ca.crt.
if [ -n "${BROKER_FILES:-}" ]; then
  for file in passwd acl ca.crt server.crt server.key; do
    if [ ! -f "$BROKER_FILES/$file" ]; then
      complain "broker/$file is missing: run mcc broker certs and mcc broker files (deploy/README.md)"
    fi
  done
fi

if [ "$fail" -ne 0 ]; then
  echo "preflight: refusing to start; edit $env_file" >&2
  exit 1
fi
echo "preflight: secrets look set"
