#!/usr/bin/env bash
# Container entry point: `web` (migrates, prepares the object store's bucket, then gunicorn), `worker`, `beat`,
# `flower`, `objectstore` (SeaweedFS's S3 server), `migrate`, or any command.
set -euo pipefail
cd /app
role=${1:-web}
case "$role" in
  web)
    python manage.py migrate --noinput
    python manage.py prepare_storage
    exec gunicorn ravid_project.wsgi --no-control-socket -b "0.0.0.0:${PORT:-8000}" -w "${WEB_CONCURRENCY:-$(nproc)}" -k gthread \
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
  objectstore)
    : "${S3_ACCESS_KEY:?set S3_ACCESS_KEY}" "${S3_SECRET_KEY:?set S3_SECRET_KEY}"
    mkdir -p /data/objectstore
    python - <<'PY'
import json, os
identity = {"name": "ravid", "credentials": [{"accessKey": os.environ["S3_ACCESS_KEY"],
            "secretKey": os.environ["S3_SECRET_KEY"]}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
with open("/data/objectstore/s3.json", "w") as out:
    json.dump({"identities": [identity]}, out)
os.chmod("/data/objectstore/s3.json", 0o600)
PY
    exec weed server -dir=/data/objectstore -ip=127.0.0.1 -ip.bind=0.0.0.0 -s3 -s3.port=8333 \
      -s3.config=/data/objectstore/s3.json -s3.port.iceberg=0 -s3.port.lance=0 -volume.max=0
    ;;
  migrate)
    exec python manage.py migrate --noinput
    ;;
  *)
    exec "$@"
    ;;
esac
