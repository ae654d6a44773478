# ravid: one image for web, worker, beat, Flower and the SeaweedFS object store (scripts/entrypoint.sh picks the role).

# --- build: compile wheels (mysqlclient needs headers and a compiler) into a virtualenv ---
FROM python:3.11-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config default-libmysqlclient-dev \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --upgrade pip && pip install --no-cache-dir -r /tmp/requirements.txt

# --- runtime: no compilers, a non-root user ---
FROM python:3.11-slim-bookworm AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmariadb3 curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 ravid \
 && useradd --system --uid 10001 --gid ravid --home-dir /app --shell /usr/sbin/nologin ravid \
 && mkdir -p /data/media /data/objectstore && chown -R ravid:ravid /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MEDIA_ROOT=/data/media \
    PORT=8000
WORKDIR /app
COPY --chown=ravid:ravid . /app
RUN SECRET_KEY=build-only-collectstatic python manage.py collectstatic --noinput -v0 && chown -R ravid:ravid /app/staticfiles
USER ravid
EXPOSE 8000 5555
VOLUME ["/data/media"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD curl -fsS "http://127.0.0.1:${PORT}/health/" || exit 1
ENTRYPOINT ["/app/scripts/entrypoint.sh"]
CMD ["web"]
