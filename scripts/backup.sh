#!/usr/bin/env bash
# Dumps the compose stack's database and media files into backups/<timestamp>/.
set -euo pipefail
cd "$(dirname "$0")/.."
COMPOSE=${COMPOSE:-docker compose}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
target="backups/$stamp"
mkdir -p "$target"
$COMPOSE exec -T mysql sh -c 'exec mysqldump --single-transaction --routines -uroot -p"$MYSQL_ROOT_PASSWORD" ravid' | gzip > "$target/ravid.sql.gz"
$COMPOSE exec -T web tar -C /data -czf - media > "$target/media.tar.gz"
echo "Backup written to $target"
