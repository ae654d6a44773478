"""Celery and the job limits: broker, reliability, time limits, the periodic sweep."""
from kombu import Queue

from .. import embedded_broker
from .environment import MEDIA_ROOT, env

# Unset: the embedded broker, a private Redis on a Unix socket that `make run` and the tests start
# (ravid_project/embedded_broker.py). Set: any Redis (redis://, rediss://, redis+socket://).
EMBEDDED_BROKER = embedded_broker.wanted()
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or embedded_broker.url(MEDIA_ROOT)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=3.0)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "socket_connect_timeout": 3,
    "socket_timeout": 5,
    # Priorities 0 (first) to 9: a user's jobs are published behind their own backlog (csv_app/services/queue.py).
    "queue_order_strategy": "priority",
    "priority_steps": list(range(10)),
}

# Two queues: heavy jobs (an ingest, Kendall's tau, anything over HEAVY_JOB_ROWS rows) and small ones. A worker
# started without -Q takes both; `make run` adds a one-process worker that takes only small jobs, so a small
# job never waits behind heavy ones however many run (WORKER_QUEUES chooses for `make worker`).
CELERY_TASK_DEFAULT_QUEUE = "small"
CELERY_TASK_QUEUES = (Queue("small", routing_key="small"), Queue("heavy", routing_key="heavy"))
HEAVY_JOB_ROWS = env.int("HEAVY_JOB_ROWS", default=1_000_000)

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Limits of one job, in seconds.
TASK_SOFT_TIME_LIMIT = env.int("TASK_SOFT_TIME_LIMIT", default=1800)
TASK_TIME_LIMIT = env.int("TASK_TIME_LIMIT", default=TASK_SOFT_TIME_LIMIT + 60)
CELERY_TASK_SOFT_TIME_LIMIT = TASK_SOFT_TIME_LIMIT
CELERY_TASK_TIME_LIMIT = TASK_TIME_LIMIT
# A STARTED task whose heartbeat is older than this is taken to have lost its worker.
TASK_HEARTBEAT_STALE_SECONDS = env.int("TASK_HEARTBEAT_STALE_SECONDS", default=60)
# A PENDING task older than this with no worker on it is requeued (its message was lost).
TASK_PENDING_REQUEUE_SECONDS = env.int("TASK_PENDING_REQUEUE_SECONDS", default=300)
# Sooner, when the queue holds fewer messages than tasks that have waited this long.
TASK_LOST_CHECK_SECONDS = env.int("TASK_LOST_CHECK_SECONDS", default=30)
TASK_MAX_ATTEMPTS = env.int("TASK_MAX_ATTEMPTS", default=3)
# One user's jobs that may wait or run at once; the next submit is a 429 until some finish.
USER_MAX_QUEUED = env.int("USER_MAX_QUEUED", default=200)
# A user running this many jobs has their next one give way (wait a second, then try again) while another user,
# running fewer, has a job waiting; alone, a user may use every worker. 0: no such rule.
USER_MAX_RUNNING = env.int("USER_MAX_RUNNING", default=1)
# Completion webhooks: https only and public addresses only unless these say otherwise (tests, private networks);
# each attempt times out after WEBHOOK_TIMEOUT_SECONDS; the pauses between attempts, in seconds (about a day).
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=False)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
WEBHOOK_RETRY_DELAYS = env.str("WEBHOOK_RETRY_DELAYS", default="10,30,120,600,1800,3600,10800,21600,43200")
# Recurring jobs (schedules) one user may have.
USER_MAX_SCHEDULES = env.int("USER_MAX_SCHEDULES", default=20)
TASK_SWEEP_INTERVAL_SECONDS = env.int("TASK_SWEEP_INTERVAL_SECONDS", default=30)

CELERY_BEAT_SCHEDULE = {
    "sweep-stale-tasks": {
        "task": "csv_app.tasks.sweep_stale_tasks",
        "schedule": float(TASK_SWEEP_INTERVAL_SECONDS),
    },
    "deliver-due-webhooks": {
        "task": "csv_app.tasks.deliver_due_webhooks",
        "schedule": 15.0,
    },
    "purge-expired-data": {
        "task": "csv_app.tasks.purge_expired_data",
        "schedule": float(env.int("RETENTION_SWEEP_SECONDS", default=3600)),
    },
}

# A job whose pool process holds more than this much memory fails with a clear error and the process is replaced
# (the worker's main process watches; csv_app/worker_watchdog.py). 0: no bound.
JOB_MEMORY_LIMIT_MB = env.int("JOB_MEMORY_LIMIT_MB", default=3072)
# A pool process that keeps more than this after a job is replaced before its next one (Celery's own check).
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env.int("WORKER_MAX_MEMORY_PER_CHILD_MB", default=max(JOB_MEMORY_LIMIT_MB // 2, 0)) * 1024 or None
# A cancelled job still running after this many seconds (stuck in C code that does not report progress) has its
# pool process killed, so the worker is free for the next job.
TASK_CANCEL_GRACE_SECONDS = env.float("TASK_CANCEL_GRACE_SECONDS", default=1.0)

# The engine's resources per worker process.
DUCKDB_MEMORY_LIMIT = env.str("DUCKDB_MEMORY_LIMIT", default="600MB")
DUCKDB_THREADS = env.int("DUCKDB_THREADS", default=2)
# Profile each dataset as it is ingested (a few seconds per 10 M rows), so `summary` answers at once.
PROFILE_ON_INGEST = env.bool("PROFILE_ON_INGEST", default=True)
# A READY dataset still without its profile this long after its profile job was queued (the message lost, the
# worker gone, the store down) gets it queued again by the sweep, up to PROFILE_MAX_ATTEMPTS times in all.
PROFILE_REQUEUE_SECONDS = env.int("PROFILE_REQUEUE_SECONDS", default=TASK_PENDING_REQUEUE_SECONDS)
PROFILE_MAX_ATTEMPTS = env.int("PROFILE_MAX_ATTEMPTS", default=2)

# /health/ asks the broker and the workers at most this often per web process.
HEALTH_CACHE_SECONDS = env.float("HEALTH_CACHE_SECONDS", default=5.0)

# Long poll on a task's status (?wait=SECONDS): the longest a request may wait for a change, how often the waiting
# request looks at the task's row, and how many requests of one web process may wait at once (a waiting request
# holds one of the web server's threads; past this bound a wait answers at once, so waiters never starve the
# other requests). Half of WEB_THREADS by default.
TASK_WAIT_MAX_SECONDS = env.int("TASK_WAIT_MAX_SECONDS", default=60)
TASK_WAIT_INTERVAL_SECONDS = env.float("TASK_WAIT_INTERVAL_SECONDS", default=0.2)
TASK_WAIT_MAX_CLIENTS = env.int("TASK_WAIT_MAX_CLIENTS", default=max(1, env.int("WEB_THREADS", default=8) // 2))
