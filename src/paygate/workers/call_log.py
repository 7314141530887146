"""The call log is written off the request path (R-LOG-1, R-LOG-3): requests put masked
rows on a bounded queue; one task writes them in batches. A full queue or a database error
drops rows (counted in ``paygate_call_log_dropped_total``), never fails or slows a payment."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

from paygate.kit import metrics
from paygate.repositories import Database

__all__ = ["CallLogWriter"]

log = structlog.get_logger("paygate.call_log")


class CallLogWriter:
    def __init__(self, db: Database, max_queue: int = 10_000, batch: int = 200) -> None:
        self._db = db
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=max_queue)
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        self._in_flight = 0  # rows taken off the queue and not yet written

    def submit(self, row: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(row)
        except asyncio.QueueFull:
            metrics.LOG_DROPPED.inc()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="call-log-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._write(self._drain())

    async def flush(self) -> None:
        """Write everything submitted so far (tests, shutdown)."""
        await self._write(self._drain())
        for _ in range(200):
            if self._in_flight == 0:
                return
            await asyncio.sleep(0.01)

    def _drain(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while not self._queue.empty() and len(rows) < self._batch * 10:
            rows.append(self._queue.get_nowait())
        return rows

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            self._in_flight += 1
            try:
                await asyncio.sleep(0.05)  # let a batch gather
                await self._write([first, *self._drain()])
            finally:
                self._in_flight -= 1

    async def _write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        try:
            async with self._db.transaction() as uow:
                await uow.call_logs.insert_many(rows)
        except Exception:
            metrics.LOG_DROPPED.inc(len(rows))
            log.exception("call log rows dropped", count=len(rows))
