"""Long work started from a page (a backtest, a sweep) on a thread, polled by HTMX for progress.

A job is kept in memory by the process that serves the page: its progress (done of total), the
result's id when it finished and the error's message when it failed. The result itself is
stored by the use case (a backtest run), so a restart loses only the progress bar.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stocker.core.errors import StockerError

MAX_JOBS = 200
"""Finished jobs kept for polling; the oldest are forgotten beyond this."""


@dataclass
class Job:
    """One piece of work and what is known about it so far."""

    id: str
    kind: str
    label: str
    done: int = 0
    total: int = 0
    state: str = "running"
    result: Any = None
    error: str | None = None

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


@dataclass
class Jobs:
    """The jobs started from this process, by id."""

    _jobs: dict[str, Job] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(
        self, kind: str, label: str, work: Callable[[Callable[[int, int], None]], Any]
    ) -> Job:
        """Run `work(progress)` on a thread; its return value becomes the job's result."""
        job = Job(id=uuid.uuid4().hex, kind=kind, label=label)
        with self._lock:
            self._jobs[job.id] = job
            for stale in list(self._jobs)[:-MAX_JOBS]:
                del self._jobs[stale]

        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        def run() -> None:
            try:
                job.result = work(progress)
                job.state = "done"
            except StockerError as error:
                job.error, job.state = str(error), "failed"
            except Exception as error:  # a bug must still end the progress bar
                job.error, job.state = f"{type(error).__name__}: {error}", "failed"

        threading.Thread(target=run, name=f"stocker-web-{kind}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)
