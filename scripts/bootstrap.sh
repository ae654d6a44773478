#!/usr/bin/env bash
# Creates the virtualenv and installs requirements.txt; installs the MySQL client headers with apt where missing.
set -euo pipefail
PYTHON=${1:-python3}
VENV=${2:-.venv}

if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "ravid needs Python 3.11 or newer; '$PYTHON' is $("$PYTHON" --version 2>&1)." >&2
  echo "Run: make run PYTHON=/path/to/python3.11" >&2
  exit 1
fi

if ! pkg-config --exists mysqlclient 2>/dev/null && ! pkg-config --exists libmariadb 2>/dev/null \
   && ! command -v mysql_config >/dev/null 2>&1 && ! command -v mariadb_config >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "Installing the MySQL client headers that mysqlclient builds against (apt-get)..."
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq default-libmysqlclient-dev pkg-config build-essential >/dev/null
  else
    echo "Warning: no MySQL client headers found and no apt-get; install libmysqlclient-dev (or mariadb-connector-c) and pkg-config." >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "Creating $VENV..."
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
echo "Installing requirements..."
"$VENV/bin/python" -m pip install --quiet -r requirements.txt
# The project itself, editable, for its `ravid` command (.venv/bin/ravid). Its build backend (setuptools) comes
# from the package index into an isolated build environment, so a fresh venv needs nothing more; -qq keeps
# setuptools' notes on editable installs quiet (errors still show).
echo "Installing the ravid command..."
"$VENV/bin/python" -m pip install --quiet --quiet --no-deps -e .
