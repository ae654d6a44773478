#!/usr/bin/env bash
# Starts Flower behind basic auth: FLOWER_BASIC_AUTH=user:pass (comma-separate several), or else a password
# generated once for this MEDIA_ROOT (kept in MEDIA_ROOT/run/flower-auth). `flower.sh --auth` prints the credentials.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${FLOWER_BASIC_AUTH:-}" ]; then
  auth_file=$(python -c 'from ravid_project.embedded_broker import media_root; print(media_root() / "run" / "flower-auth")')
  if [ ! -s "$auth_file" ]; then
    mkdir -p "$(dirname "$auth_file")"
    (umask 077; python -c 'import secrets; print("ravid:" + secrets.token_urlsafe(12))' > "$auth_file")
  fi
  FLOWER_BASIC_AUTH=$(cat "$auth_file")
fi
if [ "${1:-}" = "--auth" ]; then
  echo "$FLOWER_BASIC_AUTH"
  exit 0
fi
# Flower reads FLOWER_BASIC_AUTH from its environment: on its command line the password would show in `ps`.
export FLOWER_BASIC_AUTH
exec celery -A ravid_project flower --port="${FLOWER_PORT:-5555}" --address="${FLOWER_ADDRESS:-127.0.0.1}"
