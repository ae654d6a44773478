#!/usr/bin/env bash
# Runs the whole local stack under supervisord: the embedded broker (when CELERY_BROKER_URL is unset), web, worker,
# beat and Flower. A process that exits is restarted; one that keeps failing to start is reported and given up on.
# Ctrl-C or SIGTERM stops everything within 15 s: running jobs are put back on the queue and finish on the next start.
set -euo pipefail
cd "$(dirname "$0")/.."
export PORT=${PORT:-8000} FLOWER_PORT=${FLOWER_PORT:-5555} HOST=${HOST:-127.0.0.1}
export WEB_CONCURRENCY=${WEB_CONCURRENCY:-$(nproc 2>/dev/null || echo 2)} WEB_THREADS=${WEB_THREADS:-8}
export WORKER_CONCURRENCY=${WORKER_CONCURRENCY:-2} WORKER_NICE=${WORKER_NICE:-5}
export PYTHONUNBUFFERED=1

python manage.py migrate --noinput
case "${STORAGE_URL:-}" in s3://*) python manage.py prepare_storage ;; esac  # the bucket exists and is writable
python manage.py collectstatic --noinput -v0

# Where supervisord keeps its pid, log and control socket (beside the broker's socket, under MEDIA_ROOT/run).
run_dir=$(python -c 'from ravid_project.embedded_broker import media_root; print(media_root() / "run")')
control=$(python -c 'from ravid_project.embedded_broker import runtime_path; print(runtime_path("supervisor.sock"))')
mkdir -p "$run_dir"
if [ -s "$run_dir/supervisord.pid" ] && kill -0 "$(cat "$run_dir/supervisord.pid")" 2>/dev/null; then
  echo "ravid is already running from this folder (supervisord, pid $(cat "$run_dir/supervisord.pid")); stop it" \
       "first (Ctrl-C where it runs, or: kill $(cat "$run_dir/supervisord.pid"))." >&2
  exit 1
fi
embedded=$(python -c 'from ravid_project.embedded_broker import wanted; print(int(wanted()))')
if [ "$embedded" = 1 ]; then
  # A broker that `make worker` or `make web` started on its own: make run takes it over (its queue is kept).
  python -m ravid_project.embedded_broker stop
fi
# Flower shows every job: it asks for a password, one generated for this folder unless FLOWER_BASIC_AUTH is set.
FLOWER_BASIC_AUTH=$(bash scripts/flower.sh --auth)
export FLOWER_BASIC_AUTH
conf="$run_dir/supervisord.conf"
# Paths as supervisord reads them: quoted (a folder may have spaces), % doubled (its interpolation sign).
python=$(command -v python)
python="\"${python//%/%%}\""
here=${PWD//%/%%}
secret=$(python -c 'import secrets; print(secrets.token_hex(16))')  # supervisorctl reads it from the file (0600)
# Every program: restarted when it exits, its output on this terminal; whatever outlives its stop time is killed
# with its whole process group.
common="autorestart=true
startsecs=3
startretries=5
killasgroup=true
redirect_stderr=true
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0"

: > "$conf" && chmod 600 "$conf"  # it holds the control socket's password
{
  cat <<CONF
; Written by scripts/run.sh at every start; edit that script, not this file.
[supervisord]
nodaemon=true
logfile=${run_dir//%/%%}/supervisord.log
logfile_maxbytes=5MB
logfile_backups=1
pidfile=${run_dir//%/%%}/supervisord.pid
loglevel=info
directory=$here
CONF
  # Running as root (a container, a CI machine) is deliberate here: say so, and supervisord stays quiet about it.
  [ "$(id -u)" -eq 0 ] && echo "user=root"
  cat <<CONF

[unix_http_server]
file=${control//%/%%}
chmod=0700
username=ravid
password=$secret

[supervisorctl]
serverurl=unix://${control//%/%%}
username=ravid
password=$secret

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[eventlistener:crash-report]
command=$python scripts/crash_report.py
events=PROCESS_STATE_FATAL,PROCESS_STATE_EXITED
stderr_logfile=/dev/stderr
stderr_logfile_maxbytes=0
stdout_logfile=NONE
priority=10

[group:ravid]
programs=worker,worker-small,beat,web,flower
priority=200

[program:web]
$common
stopasgroup=true
command=$python -m gunicorn ravid_project.wsgi --no-control-socket -b $HOST:$PORT -w $WEB_CONCURRENCY -k gthread --threads $WEB_THREADS --timeout 120 --graceful-timeout 5 --keep-alive 65 --access-logfile -
stopwaitsecs=7

[program:worker]
$common
; Heavy jobs run here at a lower CPU priority (WORKER_NICE): under load, the web and small jobs come first.
command=nice -n $WORKER_NICE $python -m celery -A ravid_project worker -l info -E -O fair --concurrency $WORKER_CONCURRENCY -n worker@%%h
; SIGTERM to the main process only: its warm shutdown puts the running jobs back on the queue, they stop at their
; next progress step, and the pool processes exit with it. Whatever is still alive after 7 s is killed (its jobs
; are already back on the queue), so the whole stack is gone well within 15 s.
stopwaitsecs=7

[program:worker-small]
$common
; One process that takes only small jobs: however many heavy ones run, a small job starts at once.
command=$python -m celery -A ravid_project worker -l info -E -O fair -Q small --concurrency 1 -n small@%%h
stopwaitsecs=7

[program:beat]
$common
stopasgroup=true
command=$python -m celery -A ravid_project beat -l info --pidfile=
stopwaitsecs=5

[program:flower]
$common
stopasgroup=true
command=bash scripts/flower.sh
stopwaitsecs=5
CONF
  if [ "$embedded" = 1 ]; then
    cat <<CONF

[program:broker]
$common
stopasgroup=true
command=$python -m ravid_project.embedded_broker run
; started first and stopped last, so the others can requeue their jobs while stopping
priority=100
stopwaitsecs=5
CONF
  fi
} > "$conf"

cat <<MSG

  ravid is starting:
    Web app   http://$HOST:$PORT/app/
    API       http://$HOST:$PORT/api/
    Swagger   http://$HOST:$PORT/swagger/
    Health    http://$HOST:$PORT/health/
    Admin     http://$HOST:$PORT/admin/   (create a user: .venv/bin/python manage.py createsuperuser)
    Flower    http://${FLOWER_ADDRESS:-127.0.0.1}:$FLOWER_PORT/   (user:password $FLOWER_BASIC_AUTH)
    Broker    $( [ "$embedded" = 1 ] && python -c 'from ravid_project.embedded_broker import folder; print("embedded Redis in", folder())' || echo "CELERY_BROKER_URL")
  Status: .venv/bin/supervisorctl -c $conf status
  Press Ctrl-C to stop everything.

MSG
exec supervisord -c "$conf"
