"""Backtests started over HTTP run in a background thread pool; a job records what became of
each (queued, running with its run id and progress, done, failed with the reason).

The run's own row (`backtest_runs`, status PENDING → RUNNING → COMPLETED / FAILED) is the
durable record; a job only bridges the moment between the request and that row's creation, and
lives as long as the server process.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from stocker.core.errors import StockerError


@dataclass
class Job:
    """One background backtest."""

    id: str
    portfolio: str
    status: str = "QUEUED"
    run_id: int | None = None
    done: int = 0
    total: int = 0
    error: str | None = None
    error_status: int | None = None
    started: threading.Event = field(default_factory=threading.Event)

    def as_json(self) -> dict[str, Any]:
        return {
            "job_id": self.id,
            "portfolio": self.portfolio,
            "status": self.status,
            "run_id": self.run_id,
            "progress": {"done": self.done, "total": self.total},
            "error": self.error,
        }


class Jobs:
    """The pool and the jobs it ran (see the module docstring)."""

    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backtest")
        self._jobs: dict[str, Job] = {}
        self._claimed: set[int] = set()
        self._lock = threading.Lock()

    def claim(self, run_ids: list[int]) -> int | None:
        """The newest of `run_ids` no job has claimed yet (the run a job just started), if any;
        two jobs on one portfolio never take the same run."""
        with self._lock:
            for run_id in sorted(run_ids, reverse=True):
                if run_id not in self._claimed:
                    self._claimed.add(run_id)
                    return run_id
        return None

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def submit(
        self,
        portfolio: str,
        work: Callable[[Job], int],
    ) -> Job:
        """Run `work(job)` (which returns the run id) in the pool."""
        job = Job(id=uuid.uuid4().hex, portfolio=portfolio)
        with self._lock:
            self._jobs[job.id] = job

        def run() -> None:
            job.status = "RUNNING"
            try:
                job.run_id = work(job)
                job.status = "COMPLETED"
            except StockerError as error:
                job.status, job.error, job.error_status = "FAILED", str(error), 400
            except Exception as error:  # a bug: the run row says FAILED with the reason
                job.status, job.error, job.error_status = (
                    "FAILED",
                    f"unexpected {type(error).__name__}",
                    500,
                )
            finally:
                job.started.set()

        self._pool.submit(run)
        return job

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
