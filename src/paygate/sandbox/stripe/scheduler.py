"""Delayed work (processing payments settling, refunds finishing, webhook retries).

Work is queued whether or not the sandbox runs; it happens only between ``start()`` and
``stop()``, so a sandbox that is not started changes nothing behind a test's back.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["Scheduler"]

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._wake: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def running(self) -> bool:
        return self._runner is not None

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (time.monotonic() + max(delay, 0.0), next(self._order), callback))
        if self._wake is not None:
            self._wake.set()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` now, tracked so that ``stop()`` cancels it."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def start(self) -> None:
        if self._runner is None:
            self._wake = asyncio.Event()
            self._runner = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        tasks = [t for t in (runner, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._wake = None

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            now = time.monotonic()
            while self._heap and self._heap[0][0] <= now:
                _, _, callback = heapq.heappop(self._heap)
                try:
                    callback()
                except Exception:  # a failing job must not stop the others
                    log.exception("stripe sandbox: scheduled job failed")
            timeout = self._heap[0][0] - now if self._heap else None
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
