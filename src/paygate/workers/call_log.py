"""The call log is written off the request path (R-LOG-1, R-LOG-3): requests put masked
rows on a bounded queue; one task writes them in batches. A full queue or a database error
drops rows (counted in ``paygate_call_log_dropped_total``), never fails or slows a payment."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

from paygate.kit import metrics
from paygate.kit.shutdown import FORCE_GRACE_SECONDS, stop_within
from paygate.repositories import Database

__all__ = ["STOP_SECONDS", "CallLogWriter"]

#: What :meth:`CallLogWriter.stop` and :meth:`CallLogWriter.flush` wait at most.
STOP_SECONDS = 5.0

log = structlog.get_logger("paygate.call_log")


class CallLogWriter:
    def __init__(self, db: Database, max_queue: int = 10_000, batch: int = 200) -> None:
        self._db = db
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=max_queue)
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()  # set: nothing queued, nothing being written
        self._idle.set()

    def submit(self, row: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(row)
            self._idle.clear()
        except asyncio.QueueFull:
            metrics.LOG_DROPPED.inc()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="call-log-writer")

    async def stop(self, seconds: float = STOP_SECONDS) -> None:
        """Write what is queued (at most ``seconds``), then stop the writer. Rows still
        unwritten then are counted as dropped."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        task, self._task = self._task, None
        if task is not None:
            await self._until_idle(seconds)  # graceful: the writer empties the queue
            task.cancel()
            await stop_within(_wait_quietly(task), FORCE_GRACE_SECONDS, "call-log writer")
        await self._write_within(self._drain_all(), max(deadline - loop.time(), FORCE_GRACE_SECONDS))

    async def flush(self, seconds: float = STOP_SECONDS) -> None:
        """Write everything submitted so far, waiting at most ``seconds`` (tests, shutdown)."""
        if self._task is None or self._task.done():
            await self._write_within(self._drain_all(), seconds)
        else:
            await self._until_idle(seconds)

    async def _until_idle(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._idle.wait()

    async def _write_within(self, rows: list[dict[str, Any]], seconds: float) -> None:
        if rows and not await stop_within(self._write(rows), seconds, "call-log write"):
            metrics.LOG_DROPPED.inc(len(rows))
            log.error("call log rows dropped: the database did not answer in time", count=len(rows))

    def _drain_all(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while not self._queue.empty():
            rows.append(self._queue.get_nowait())
        return rows

    def _drain(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while not self._queue.empty() and len(rows) < self._batch * 10:
            rows.append(self._queue.get_nowait())
        return rows

    async def _run(self) -> None:
        while True:
            if self._queue.empty():
                self._idle.set()
            rows = [await self._queue.get()]
            try:
                await asyncio.sleep(0.05)  # let a batch gather
                rows += self._drain()
                await self._write(rows)
                rows = []
            finally:
                if rows:  # cancelled by a forced stop before the batch was written
                    metrics.LOG_DROPPED.inc(len(rows))

    async def _write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        try:
            async with self._db.transaction() as uow:
                await uow.call_logs.insert_many(rows)
        except Exception:
            metrics.LOG_DROPPED.inc(len(rows))
            log.exception("call log rows dropped", count=len(rows))


async def _wait_quietly(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        await task
