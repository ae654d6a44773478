#!/usr/bin/env bash
# Runs the suite on the configured stack (the embedded default unless DATABASE_URL/CELERY_BROKER_URL say otherwise),
# then the API and integration tests again on MySQL + Redis. REQUIRE_SERVICES=1 turns a missing service into a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export MEDIA_ROOT=${TEST_MEDIA_ROOT:-$PWD/media/test}
export PYTHONDONTWRITEBYTECODE=1

if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Chromium for the Swagger UI browser test (apt-get)..."
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  ( $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null ) \
    || echo "Could not install Chromium; the browser test will say so." >&2
fi

echo "== tests on ${DATABASE_URL:-SQLite} + ${CELERY_BROKER_URL:-the embedded broker}"
python -m pytest "$@"
first=$?

second=0
if [ -z "${DATABASE_URL:-}" ] && [ -z "${CELERY_BROKER_URL:-}" ] && [ "${SKIP_SERVICES_RUN:-0}" != 1 ]; then
  echo "== API and integration tests on MySQL + Redis"
  DATABASE_URL=${TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/ravid} \
  CELERY_BROKER_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15} \
  RAVID_SERVICES_RUN=1 \
  MEDIA_ROOT="$MEDIA_ROOT/services" \
    python -m pytest tests/csv_app tests/integration "$@"
  second=$?
fi
[ "$first" = 0 ] && [ "$second" = 0 ]
