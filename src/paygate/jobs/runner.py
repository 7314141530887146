"""Runs registered jobs until told to stop; every stop is bounded."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import socket
from datetime import timedelta

import structlog

from paygate.jobs.registry import JobKind, RegisteredJob
from paygate.kit import metrics
from paygate.kit.clock import utc_now
from paygate.repositories import Database

__all__ = ["JobRunner", "worker_id"]

log = structlog.get_logger("paygate.jobs")

#: After a job raised, wait this long (seconds) before its next round.
ERROR_BACKOFF_SECONDS = 2.0


def worker_id() -> str:
    """``host:pid:random`` — names the holder of a lease in the database."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(3)}"


class JobRunner:
    def __init__(self, db: Database, jobs: list[RegisteredJob], *, owner: str | None = None) -> None:
        self._db = db
        self._jobs = jobs
        self.owner = owner or worker_id()
        self._stopping = asyncio.Event()
        self._wakers: dict[str, asyncio.Event] = {e.job.name: asyncio.Event() for e in jobs}
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def names(self) -> list[str]:
        return [e.job.name for e in self._jobs]

    async def start(self) -> None:
        for entry in self._jobs:
            loop = self._claiming if entry.kind is JobKind.CLAIMING else self._periodic
            self._tasks.append(asyncio.create_task(loop(entry), name=f"job:{entry.job.name}"))
        log.info("jobs.started", owner=self.owner, jobs=self.names)

    def wake(self, name: str) -> None:
        """Run the job now instead of at the end of its sleep (e.g. a new event was committed)."""
        waker = self._wakers.get(name)
        if waker is not None:
            waker.set()

    async def stop(self, grace: float = 10.0) -> None:
        """Let running rounds finish for up to ``grace`` seconds, then cancel them. A
        cancelled round is safe: its claims' leases run out and another worker takes over."""
        self._stopping.set()
        for waker in self._wakers.values():
            waker.set()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=2.0)
        self._tasks.clear()

    def wake_to_stop(self) -> None:
        """Ask the runner to stop (a signal handler); :meth:`stop` does the stopping."""
        self._stopping.set()
        for waker in self._wakers.values():
            waker.set()

    async def run_until_stopped(self) -> None:
        await self._stopping.wait()

    async def _sleep(self, name: str, seconds: float) -> None:
        waker = self._wakers[name]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waker.wait(), timeout=max(0.0, seconds))
        waker.clear()

    async def _claiming(self, entry: RegisteredJob) -> None:
        job = entry.job
        while not self._stopping.is_set():
            try:
                handled = await job.run_once()
            except Exception:
                log.exception("job.failed", job=job.name)
                metrics.JOB_RUNS.labels(job.name, "error").inc()
                await self._sleep(job.name, ERROR_BACKOFF_SECONDS)
                continue
            if handled > 0:
                metrics.JOB_RUNS.labels(job.name, "ok").inc()
                await asyncio.sleep(0)  # more may be waiting: go again, but let others run
            else:
                await self._sleep(job.name, job.interval)

    async def _periodic(self, entry: RegisteredJob) -> None:
        job = entry.job
        try:
            await self._db.run(lambda uow: uow.jobs.ensure(job.name, utc_now()))
        except Exception:
            log.exception("job.failed", job=job.name)
        while not self._stopping.is_set():
            now = utc_now()
            wait = job.interval
            try:
                won = await self._db.run(
                    lambda uow, now=now: uow.jobs.take(  # type: ignore[misc]
                        job.name,
                        now,
                        now + timedelta(seconds=job.interval),
                        now + timedelta(seconds=entry.timeout),
                        self.owner,
                    )
                )
                if won:
                    await self._run_periodic(entry)
                async with self._db.reading() as uow:
                    next_run = await uow.jobs.next_run(job.name)
                if next_run is not None:
                    wait = (next_run - utc_now()).total_seconds()
            except Exception:
                log.exception("job.failed", job=job.name)
                wait = ERROR_BACKOFF_SECONDS
            # a little after the due time, spread so that the processes do not all ask at once
            await self._sleep(job.name, max(0.0, wait) + random.uniform(0, min(1.0, job.interval / 20)))

    async def _run_periodic(self, entry: RegisteredJob) -> None:
        job = entry.job
        try:
            handled = await asyncio.wait_for(job.run_once(), timeout=entry.timeout)
            result, outcome = f"handled {handled}", "ok"
        except TimeoutError:
            result, outcome = f"gave up after {entry.timeout:.0f} s", "timeout"
            log.warning("job.timeout", job=job.name, timeout=entry.timeout)
        except Exception as exc:
            result, outcome = f"error: {type(exc).__name__}", "error"
            log.exception("job.failed", job=job.name)
        metrics.JOB_RUNS.labels(job.name, outcome).inc()
        await self._db.run(lambda uow: uow.jobs.finish(job.name, self.owner, utc_now(), result))
