"""A Celery worker step that stops jobs from the worker's main process (csv_app/services/watchdog.py decides).

On the worker's event loop, twice a second: note what each pool process runs, and kill (SIGKILL, through the
request, so Celery acknowledges the message and replaces the process) what the watchdog named. On a thread of its
own: read each pool process's memory and ask the database which jobs are lost, so a slow database never holds up
the event loop. Only the main process can do this: a job's own process may be stuck in C code holding the GIL."""
import logging
import queue
import signal
import threading
import time

import psutil
from celery import bootsteps

logger = logging.getLogger("ravid.worker")
RUN_TASK = "csv_app.tasks.run_task"


class JobWatchdog(bootsteps.StartStopStep):
    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.timer_entry = None
        self.thread = None
        self.stopping = threading.Event()
        self.seen: queue.SimpleQueue = queue.SimpleQueue()   # event loop -> thread: what runs now
        self.due: queue.SimpleQueue = queue.SimpleQueue()    # thread -> event loop: what to kill
        self.killed: queue.SimpleQueue = queue.SimpleQueue()  # event loop -> thread: clean up after these
        self.replace_until = 0.0  # after a kill: see that the pool replaces the process now, not at its 5 s timer

    def start(self, consumer):
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="ravid-watchdog", daemon=True)
        self.thread.start()
        self.timer_entry = consumer.timer.call_repeatedly(0.5, self._tick, (consumer,))

    def stop(self, consumer):
        self.stopping.set()
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    shutdown = stop

    # --- on the event loop -------------------------------------------------------------------------------
    def _tick(self, consumer) -> None:
        from celery.worker.state import active_requests

        from .services.runner import worker_identity

        running = {}
        for request in list(active_requests):
            if request.name == RUN_TASK and request.time_start and request.worker_pid:
                running[(request.id, request.worker_pid)] = request
        while True:
            try:
                stop = self.due.get_nowait()
            except queue.Empty:
                break
            request = running.get((stop.running.task_id, stop.running.pid))
            if request is not None:
                logger.warning("stopping a job from outside its process",
                               extra={"ravid_task_id": stop.running.task_id, "reason": stop.reason,
                                      "pid": stop.running.pid, "rss_mb": stop.running.rss // 2**20})
                request.terminate(consumer.pool, signal=signal.SIGKILL)
                running.pop((stop.running.task_id, stop.running.pid))
                self.replace_until = time.monotonic() + 10.0
            self.killed.put(stop)
        # After a kill the pool replaced the process only at its own 5 s maintenance timer now and then (the next
        # job started 5.9-6.9 s after a cancel instead of ~2 s): for 10 s, ask it every tick (a no-op once it has).
        maintain = getattr(consumer.pool, "maintain_pool", None)
        if self.replace_until and time.monotonic() < self.replace_until and maintain is not None:
            maintain()
        else:
            self.replace_until = 0.0
        self.seen.put([(task_id, worker_identity(r.hostname or "", pid), pid) for (task_id, pid), r in running.items()])

    # --- on the watchdog's thread ------------------------------------------------------------------------
    def _watch(self) -> None:
        from django.db import close_old_connections, connections

        from .services.watchdog import Running, Watch, job_killed

        watch = Watch()
        try:
            while not self.stopping.is_set():
                try:
                    snapshot = self.seen.get(timeout=1.0)
                except queue.Empty:
                    continue
                while not self.seen.empty():  # only the newest picture matters
                    snapshot = self.seen.get_nowait()
                self._clean_up(job_killed)
                running = [Running(task_id, identity, pid, _rss(pid)) for task_id, identity, pid in snapshot]
                if not running:
                    watch.lost_since.clear()
                    continue
                try:
                    close_old_connections()
                    for stop in watch.check(running):
                        self.due.put(stop)
                except Exception:  # the database is away: decide again on the next round
                    logger.warning("the job watchdog could not read the tasks; trying again", exc_info=True)
                    connections.close_all()
        finally:
            connections.close_all()

    def _clean_up(self, job_killed) -> None:
        while True:
            try:
                stop = self.killed.get_nowait()
            except queue.Empty:
                return
            _wait_gone(stop.running.pid)
            try:
                job_killed(stop.running.task_id, stop.attempt)
            except OSError:
                logger.warning("could not remove a stopped job's files", exc_info=True)


def _wait_gone(pid: int, timeout: float = 5.0) -> None:
    """Until the process is dead. Never waitpid(): reaping the pool's children is billiard's business."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.05)


def _rss(pid: int) -> int:
    try:
        return psutil.Process(pid).memory_info().rss
    except psutil.Error:
        return 0
