"""Uploads indexed in the background, so the page can show progress and then the document."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

KEPT_JOBS = 200


@dataclass
class Job:
    filename: str
    started: float = field(default_factory=time.monotonic)
    state: str = "running"
    """``running`` | ``done`` | ``failed``."""
    report: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    doc_id: str = ""

    @property
    def seconds(self) -> int:
        return int(time.monotonic() - self.started)


class JobBoard:
    """Background jobs by id; the oldest finished ones are forgotten past ``KEPT_JOBS``."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, filename: str, work: Callable[[Job], None]) -> str:
        """Run ``work(job)`` on a thread; it fills in the job. Returns the job's id."""
        job_id = secrets.token_urlsafe(12)
        job = Job(filename)
        with self._lock:
            self._jobs[job_id] = job
            finished = [k for k, j in self._jobs.items() if j.state != "running"]
            for old in finished[: max(0, len(self._jobs) - KEPT_JOBS)]:
                del self._jobs[old]

        def run() -> None:
            try:
                work(job)
                job.state = "done"
            except Exception as e:  # shown on the job's page; the console keeps serving
                job.reason = " ".join(str(e).split()) or type(e).__name__
                job.state = "failed"

        threading.Thread(target=run, name=f"console-job-{job_id}", daemon=True).start()
        return job_id

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)
