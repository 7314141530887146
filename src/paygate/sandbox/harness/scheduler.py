"""Delayed work of one sandbox: notification attempts and retries, refunds that settle
later, deadlines swept — every timer the sandbox runs.

A job is queued with a delay in the channel's own seconds (``later(240, …)``); the delay is
multiplied by ``SandboxConfig.time_scale`` so that a 25-hour retry schedule can run in a
second of a test. Jobs may be queued at any time but run only between :meth:`start` and
:meth:`stop`, so a sandbox that is not started changes nothing behind a test's back, and
work queued meanwhile runs after the next start.

A job is a callable; when it returns an awaitable, that awaitable runs as a task the
scheduler tracks. :meth:`stop` cancels the tasks and waits for them at most
:data:`STOP_GRACE_SECONDS`: a task stuck where cancellation cannot reach (a DNS look-up in
a worker thread) is left behind rather than allowed to hang the stop. A job whose task was
cut short is queued again, due at once: it runs from the start after the next
:meth:`start` (a notification attempt interrupted by a stop is made again).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import inspect
import itertools
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final

__all__ = ["STOP_GRACE_SECONDS", "Job", "Scheduler"]

log = logging.getLogger(__name__)

#: The longest :meth:`Scheduler.stop` waits for cancelled tasks to finish.
STOP_GRACE_SECONDS: Final = 1.0

Job = Callable[[], Awaitable[Any] | None]


class Scheduler:
    def __init__(self, time_scale: float = 1.0, *, name: str = "sandbox") -> None:
        self.time_scale = time_scale
        self._name = name
        self._heap: list[tuple[float, int, Job]] = []
        self._order = itertools.count()
        # later() may be called from a test's worker thread; the heap is shared with the loop.
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None
        self._tasks: dict[asyncio.Task[Any], Job] = {}

    @property
    def running(self) -> bool:
        return self._runner is not None

    def later(self, seconds: float, job: Job, *, scaled: bool = True) -> None:
        """Run ``job`` after ``seconds`` of channel time (times ``time_scale`` unless
        ``scaled`` is False: real seconds, for the sandbox's own housekeeping)."""
        delay = max(seconds, 0.0) * (self.time_scale if scaled else 1.0)
        with self._lock:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._order), job))
        self._poke()

    def pending(self) -> int:
        """How many jobs wait for their time (or for :meth:`start`)."""
        with self._lock:
            return len(self._heap)

    def busy(self) -> bool:
        """Whether a task started by a job is still running."""
        return any(not t.done() for t in list(self._tasks))

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._runner = self._loop.create_task(self._run(), name=f"{self._name}-scheduler")

    async def stop(self) -> None:
        """Cancel the runner and every task it started; bounded by STOP_GRACE_SECONDS."""
        runner, self._runner = self._runner, None
        cut_short = [job for task, job in self._tasks.items() if not task.done()]
        tasks = [t for t in (runner, *self._tasks) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
        self._tasks = {t: j for t, j in self._tasks.items() if not t.done()}
        self._wake, self._loop = None, None
        for job in cut_short:
            self.later(0, job)

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wake.set()
        else:
            loop.call_soon_threadsafe(wake.set)

    def _due(self, now: float) -> list[Job]:
        with self._lock:
            jobs = []
            while self._heap and self._heap[0][0] <= now:
                jobs.append(heapq.heappop(self._heap)[2])
            return jobs

    def _next_timeout(self, now: float) -> float | None:
        with self._lock:
            return max(self._heap[0][0] - now, 0.0) if self._heap else None

    async def _run(self) -> None:
        wake = self._wake
        assert wake is not None
        while True:
            for job in self._due(time.monotonic()):
                self._call(job)
            wake.clear()
            timeout = self._next_timeout(time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout)

    def _call(self, job: Job) -> None:
        try:
            result = job()
        except Exception:  # one failing job must not stop the others
            log.exception("%s: a scheduled job failed", self._name)
            return
        if inspect.isawaitable(result):
            self._track(job, result)

    def _track(self, job: Job, awaitable: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await awaitable
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: a scheduled task failed", self._name)

        coro: Coroutine[Any, Any, None] = run()
        assert self._loop is not None
        task = self._loop.create_task(coro)
        self._tasks[task] = job
        task.add_done_callback(lambda done: self._tasks.pop(done, None))
