"""Background jobs of the web app: long solves run in a thread pool, report progress and can be cancelled.

A job is a function ``work(report) -> dict``; it calls ``report(fraction, message)`` between its steps, and that
call raises :class:`JobCancelled` once the job was cancelled, so cancellation takes effect at the next step
boundary (a single contact solve is never interrupted half-way). Queued jobs are cancelled before they start.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError

#: Job states.
QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)


class JobCancelled(Exception):
    """Raised inside a job's work function (by its progress reporter) once the job was cancelled."""


class TooManyJobs(Exception):
    """More jobs are queued or running than the manager accepts."""


Reporter = Callable[[float, str], None]


@dataclass
class Job:
    """One background job (mutable; guarded by its manager's lock)."""

    id: str
    kind: str
    state: str = QUEUED
    progress: float = 0.0
    message: str = "queued"
    error: str | None = None
    result: dict[str, Any] | None = None
    created_s: float = field(default_factory=time.monotonic)
    cancel_event: threading.Event = field(default_factory=threading.Event, repr=False)
    future: Future | None = field(default=None, repr=False)

    def snapshot(self) -> dict[str, Any]:
        """The job as a JSON-ready dict (``JobStatus``)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "progress": round(self.progress, 4),
            "message": self.message,
            "error": self.error,
            "result": self.result if self.state == DONE else None,
        }


class JobManager:
    """Run jobs in a thread pool, keep their status, cancel them.

    Parameters
    ----------
    workers : int
        Threads solving at the same time.
    max_active : int
        Most queued plus running jobs; more are refused with :class:`TooManyJobs`.
    keep : int
        Finished jobs kept for status queries (oldest finished dropped first).
    """

    def __init__(self, workers: int = 1, max_active: int = 4, keep: int = 64) -> None:
        if workers < 1 or max_active < 1 or keep < 1:
            raise InputError("workers, max_active and keep must be at least 1")
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="spinerelease-job")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self.max_active = max_active
        self.keep = keep
        self._closed = False

    def submit(self, kind: str, work: Callable[[Reporter], dict[str, Any]]) -> Job:
        """Queue ``work`` and return its job."""
        with self._lock:
            if self._closed:
                raise TooManyJobs("the server is shutting down")
            active = sum(1 for j in self._jobs.values() if j.state not in FINISHED)
            if active >= self.max_active:
                raise TooManyJobs(f"{active} jobs are already queued or running; wait for one to finish or cancel one")
            job = Job(id=secrets.token_hex(8), kind=kind)
            self._jobs[job.id] = job
            self._prune()
        job.future = self._pool.submit(self._run, job, work)
        return job

    def _prune(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.state in FINISHED]
        for k in finished[: max(0, len(self._jobs) - self.keep)]:
            del self._jobs[k]

    def _run(self, job: Job, work: Callable[[Reporter], dict[str, Any]]) -> None:
        def report(fraction: float, message: str) -> None:
            if job.cancel_event.is_set():
                raise JobCancelled
            with self._lock:
                job.progress = min(max(float(fraction), job.progress), 1.0)
                job.message = message

        with self._lock:
            if job.cancel_event.is_set():
                job.state, job.message = CANCELLED, "cancelled before it started"
                return
            job.state, job.message = RUNNING, "running"
        try:
            result = work(report)
            if job.cancel_event.is_set():
                raise JobCancelled
        except JobCancelled:
            with self._lock:
                job.state, job.message = CANCELLED, "cancelled"
        except InputError as exc:
            with self._lock:
                job.state, job.error, job.message = FAILED, str(exc), "failed"
        except Exception as exc:  # noqa: BLE001 - a job must never take the server down; report the error
            with self._lock:
                job.state, job.error, job.message = FAILED, f"internal error: {type(exc).__name__}: {exc}", "failed"
        else:
            with self._lock:
                job.state, job.result, job.progress, job.message = DONE, result, 1.0, "done"

    def get(self, job_id: str) -> Job:
        """The job ``job_id``; ``KeyError`` if unknown (or pruned)."""
        with self._lock:
            return self._jobs[job_id]

    def status(self, job_id: str) -> dict[str, Any]:
        """JSON-ready status of ``job_id`` (``KeyError`` if unknown)."""
        with self._lock:
            return self._jobs[job_id].snapshot()

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Ask ``job_id`` to stop: a queued job never starts, a running job stops at its next step boundary."""
        with self._lock:
            job = self._jobs[job_id]
            if job.state in FINISHED:
                return job.snapshot()
            job.cancel_event.set()
            if job.state == QUEUED and job.future is not None and job.future.cancel():
                job.state, job.message = CANCELLED, "cancelled before it started"
            elif job.state == RUNNING:
                job.message = "cancelling (stops after the current step)"
            return job.snapshot()

    def wait(self, job_id: str, timeout_s: float | None = None) -> dict[str, Any]:
        """Block until ``job_id`` finished (for tests and scripts); return its status."""
        job = self.get(job_id)
        if job.future is not None:
            try:
                job.future.result(timeout=timeout_s)
            except Exception:  # noqa: BLE001 - cancelled futures raise; the status says what happened
                pass
        return self.status(job_id)

    def shutdown(self) -> None:
        """Cancel every job and stop the pool without waiting for running solves."""
        with self._lock:
            self._closed = True
            for job in self._jobs.values():
                job.cancel_event.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
