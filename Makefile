# ravid — make help lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
FLOWER_PORT ?= 5555
STAMP := $(VENV)/.requirements-installed
COMPOSE ?= docker compose
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help install run test test-quick bench migrate worker beat flower web broker-stop check-deploy \
        build up down restart logs status shell clean backup health

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-13s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements.txt
	@bash scripts/bootstrap.sh "$(PYTHON)" "$(VENV)"
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install requirements (and the MySQL client headers, via apt, where missing)

migrate: install ## Apply database migrations
	$(BIN)/python manage.py migrate --noinput

# With CELERY_BROKER_URL unset, the single-process targets share the embedded broker (started if not running).
define embedded_broker
	@[ -n "$${CELERY_BROKER_URL:-}" ] || $(BIN)/python -m ravid_project.embedded_broker start
endef

run: install ## Start everything, supervised: web on HOST:PORT, worker, beat, Flower (FLOWER_PORT), broker; Ctrl-C stops all
	@HOST=$(HOST) PORT=$(PORT) FLOWER_PORT=$(FLOWER_PORT) bash scripts/run.sh

web: install ## Start only the web server (gunicorn) on HOST:PORT
	$(embedded_broker)
	$(BIN)/gunicorn ravid_project.wsgi --no-control-socket -b $(HOST):$(PORT) -w $${WEB_CONCURRENCY:-$$(nproc 2>/dev/null || echo 2)} -k gthread --threads $${WEB_THREADS:-8} --timeout 120 --graceful-timeout 5 --keep-alive 65

worker: install ## Start only a Celery worker (WORKER_QUEUES=small for one that takes small jobs only)
	$(embedded_broker)
	nice -n $${WORKER_NICE:-0} $(BIN)/celery -A ravid_project worker -l info -E -O fair -Q $${WORKER_QUEUES:-small,heavy} --concurrency $${WORKER_CONCURRENCY:-2} -n worker$$$$@%h

beat: install ## Start only celery beat (the stale-task sweep)
	$(embedded_broker)
	$(BIN)/celery -A ravid_project beat -l info --pidfile=

flower: install ## Start only Flower on FLOWER_PORT, behind FLOWER_BASIC_AUTH (or a generated password: scripts/flower.sh --auth)
	$(embedded_broker)
	@bash scripts/flower.sh

broker-stop: install ## Stop the embedded broker that web/worker/beat/flower started on their own
	$(BIN)/python -m ravid_project.embedded_broker stop

test: install ## Run the test suite (MySQL+Redis part runs when reachable; REQUIRE_SERVICES=1 makes it mandatory)
	@bash scripts/test.sh

test-quick: install ## The suite on the configured stack only, without the minutes-long `make run` stack and multi-host tests
	@SKIP_SERVICES_RUN=1 bash scripts/test.sh -m "not stack and not multihost"

bench: install ## Benchmark the platform against DuckDB-on-CSV and pandas (ROWS=200000 for a quick run)
	$(BIN)/python scripts/bench.py --rows $${ROWS:-10000000} $${BENCH_ARGS:-}

check-deploy: install ## Run Django's deployment checks with production-like settings
	DEBUG=false SECRET_KEY=$${SECRET_KEY:-$$(head -c 48 /dev/urandom | base64)} HTTPS=true ALLOWED_HOSTS=ravid.example.com \
	  $(BIN)/python manage.py check --deploy --fail-level WARNING

define need_docker
	@command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 || { \
	  echo "This target needs a running Docker engine, and none answers here."; \
	  echo "Use 'make run' for a local stack without Docker."; exit 2; }
endef

build: ## [docker] Build the image
	$(need_docker)
	$(COMPOSE) build

up: ## [docker] Start the compose stack (web, worker, beat, flower, mysql, redis)
	$(need_docker)
	$(COMPOSE) up -d

down: ## [docker] Stop the compose stack
	$(need_docker)
	$(COMPOSE) down

restart: ## [docker] Restart the compose stack
	$(need_docker)
	$(COMPOSE) restart

logs: ## [docker] Follow the stack's logs
	$(need_docker)
	$(COMPOSE) logs -f --tail=200

status: ## [docker] Show the stack's services and their health
	$(need_docker)
	$(COMPOSE) ps

shell: ## [docker] A Django shell inside the web container
	$(need_docker)
	$(COMPOSE) exec web python manage.py shell

backup: ## [docker] Dump the database and the media files to backups/<timestamp>/
	$(need_docker)
	@bash scripts/backup.sh

health: ## Call /health/ on PORT
	@curl -fsS http://127.0.0.1:$(PORT)/health/ && echo

clean: ## Remove caches, collected static files and test media (keeps .venv and your data)
	rm -rf .pytest_cache staticfiles media/test
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +
