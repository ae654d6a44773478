#!/usr/bin/env bash
# Runs the whole local stack: migrate, then web + worker + beat + Flower; Ctrl-C stops every process it started.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8000}
FLOWER_PORT=${FLOWER_PORT:-5555}

python manage.py migrate --noinput
python manage.py collectstatic --noinput -v0

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "Stopping ravid..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "Stopped."
}
trap stop INT TERM EXIT

gunicorn ravid_project.wsgi -b "0.0.0.0:${PORT}" -w "${WEB_CONCURRENCY:-2}" --timeout 120 --access-logfile - &
pids+=($!)
celery -A ravid_project worker -l info -E -O fair --concurrency "${WORKER_CONCURRENCY:-2}" -n "worker@%h" &
pids+=($!)
celery -A ravid_project beat -l info --pidfile= &
pids+=($!)
FLOWER_PORT="$FLOWER_PORT" bash scripts/flower.sh &
pids+=($!)

cat <<MSG

  ravid is starting:
    API       http://127.0.0.1:${PORT}/api/
    Swagger   http://127.0.0.1:${PORT}/swagger/
    Health    http://127.0.0.1:${PORT}/health/
    Admin     http://127.0.0.1:${PORT}/admin/   (create a user: .venv/bin/python manage.py createsuperuser)
    Flower    http://127.0.0.1:${FLOWER_PORT}/
  Press Ctrl-C to stop everything.

MSG
wait -n "${pids[@]}" || true
echo "A ravid process exited; stopping the others." >&2
