#!/usr/bin/env bash
# Starts Flower; FLOWER_BASIC_AUTH=user:pass (comma-separate several) puts it behind basic auth.
set -euo pipefail
args=(--port="${FLOWER_PORT:-5555}" --address="${FLOWER_ADDRESS:-127.0.0.1}")
if [ -n "${FLOWER_BASIC_AUTH:-}" ]; then
  args+=(--basic-auth="$FLOWER_BASIC_AUTH")
fi
exec celery -A ravid_project flower "${args[@]}"
