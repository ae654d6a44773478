"""Jobs that must be stopped from outside their pool process.

A job stops by itself at its next progress step once it is cancelled; pure-Python work (scipy holds the GIL
for seconds) or a process that grows without bound cannot. The worker's main process asks this module, about
once a second, what its pool processes run, and kills the ones it names: a job that is no longer theirs
(cancelled, failed, taken over by another attempt) after a grace period, and at once a job over its memory bound,
which first ends FAILURE with a reason a person can act on."""
import time
from dataclasses import dataclass, field

from django.conf import settings

from ..models import Task
from ..storage import remove_tree, result_dir
from .runner import task_end

S = Task.Status
ENDED = {S.SUCCESS, S.FAILURE, S.REVOKED}


@dataclass(frozen=True)
class Running:
    """One pool process at work: which task it was given, its worker identity, its pid and resident memory."""
    task_id: str
    identity: str
    pid: int
    rss: int


@dataclass(frozen=True)
class Stop:
    running: Running
    attempt: int | None
    reason: str


def memory_reason(limit_bytes: int) -> str:
    return (f"The job used more than {limit_bytes // (1024 * 1024)} MB of memory, the bound for one job "
            "(JOB_MEMORY_LIMIT_MB), and was stopped. Run it on fewer rows or columns (a filter first), "
            "or ask the operator to raise the bound.")


@dataclass
class Watch:
    """Decides which pool processes to kill; remembers since when each job has not been its process's own."""
    memory_limit: int = field(default_factory=lambda: settings.JOB_MEMORY_LIMIT_MB * 1024 * 1024)
    grace: float = field(default_factory=lambda: settings.TASK_CANCEL_GRACE_SECONDS)
    lost_since: dict = field(default_factory=dict)

    def check(self, running: list[Running], now: float | None = None) -> list[Stop]:
        now = time.monotonic() if now is None else now
        rows = {str(row[0]): row[1:] for row in Task.objects.filter(
            id__in=[r.task_id for r in running]).values_list("id", "status", "worker", "attempts")}
        stops, keep = [], set()
        for job in running:
            status, worker, attempt = rows.get(job.task_id, (None, "", None))
            ours = status == S.STARTED and worker == job.identity
            if self.memory_limit and job.rss > self.memory_limit:
                task = Task.objects.filter(id=job.task_id).first() if ours else None
                if task is not None:  # the reason is recorded before the process dies: never a bare failure
                    task_end(task, S.FAILURE, memory_reason(self.memory_limit), attempt=attempt)
                stops.append(Stop(job, attempt, "memory"))
                continue
            # Not yet claimed (PENDING), or put back on the queue for a shutdown: the process is not working for
            # nothing, or finds out at once. Ended, or STARTED by another process: its work is lost.
            lost = status is None or status in ENDED or (status == S.STARTED and worker != job.identity)
            if not lost:
                continue
            key = (job.pid, job.task_id)
            keep.add(key)
            since = self.lost_since.setdefault(key, now)
            if now - since >= self.grace:
                stops.append(Stop(job, attempt if status in ENDED else None, status or "gone"))
        self.lost_since = {k: v for k, v in self.lost_since.items() if k in keep}
        return stops


def job_killed(task_id: str, attempt: int | None) -> None:
    """After a pool process was killed in the middle of an attempt: that attempt's unfinished folder goes, and
    the task's folder too if that leaves it empty. A later attempt's files are never touched."""
    if attempt is None:
        return
    folder = result_dir(task_id)
    for path in folder.glob(f".attempt-{attempt}-*.tmp"):
        remove_tree(path)
    try:
        folder.rmdir()
    except OSError:
        pass
