#!/usr/bin/env bash
# Container entry point: `web` (migrates, then gunicorn), `worker`, `beat`, `flower`, `migrate`, or any command.
set -euo pipefail
cd /app
role=${1:-web}
case "$role" in
  web)
    python manage.py migrate --noinput
    exec gunicorn ravid_project.wsgi -b "0.0.0.0:${PORT:-8000}" -w "${WEB_CONCURRENCY:-$(nproc)}" -k gthread \
      --threads "${WEB_THREADS:-8}" --timeout 120 --keep-alive 65 --access-logfile -
    ;;
  worker)
    exec nice -n "${WORKER_NICE:-0}" celery -A ravid_project worker -l "${LOG_LEVEL:-info}" -E -O fair -Q "${WORKER_QUEUES:-small,heavy}" \
      --concurrency "${WORKER_CONCURRENCY:-2}" -n "${WORKER_NAME:-worker}@%h"
    ;;
  beat)
    exec celery -A ravid_project beat -l "${LOG_LEVEL:-info}" --pidfile=
    ;;
  flower)
    if [ -z "${FLOWER_BASIC_AUTH:-}" ]; then
      echo "FLOWER_BASIC_AUTH (user:password) must be set outside a local run." >&2
      exit 2
    fi
    FLOWER_ADDRESS=0.0.0.0 exec bash scripts/flower.sh
    ;;
  migrate)
    exec python manage.py migrate --noinput
    ;;
  *)
    exec "$@"
    ;;
esac
