"""Stops are bounded (kit.shutdown, the call-log writer): graceful within a deadline, then
forced, then abandoned — never a wait for ever."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from paygate.kit import metrics
from paygate.kit.shutdown import FORCE_GRACE_SECONDS, stop_within
from paygate.workers.call_log import CallLogWriter


async def swallows_its_cancellation(wake: asyncio.Event) -> None:
    """The background-loop shape that hung the test suite's teardown on Python 3.11: a
    ``cancel()`` that lands in the loop iteration where ``wake`` is set is swallowed by
    ``asyncio.wait_for`` (CPython gh-86296), and the loop goes on for ever."""
    while True:
        wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), 60)


async def test_a_step_that_ends_in_time_is_awaited_normally() -> None:
    assert await stop_within(asyncio.sleep(0.01), 1, "quick") is True


async def test_a_step_that_overruns_is_cancelled() -> None:
    started = time.monotonic()
    assert await stop_within(asyncio.sleep(60), 0.2, "slow") is False
    assert time.monotonic() - started < 1


async def test_a_stop_stuck_on_a_loop_that_swallowed_its_cancellation_is_forced() -> None:
    wake = asyncio.Event()
    loop_task = asyncio.create_task(swallows_its_cancellation(wake))
    await asyncio.sleep(0.05)

    async def stop_it() -> None:  # what the sandboxes' stop(): cancel, then await the task
        wake.set()  # e.g. a webhook retry scheduled in the same loop iteration
        loop_task.cancel()
        await loop_task

    started = time.monotonic()
    assert await stop_within(stop_it(), 0.3, "stuck loop") is False
    assert time.monotonic() - started < 0.3 + FORCE_GRACE_SECONDS + 0.5
    assert loop_task.done()  # the forced cancel reached it


async def test_a_step_deaf_to_cancellation_is_abandoned_in_bounded_time() -> None:
    release = asyncio.Event()

    async def deaf() -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(10)

    step = asyncio.ensure_future(deaf())
    started = time.monotonic()
    assert await stop_within(step, 0.2, "deaf") is False
    assert time.monotonic() - started < 0.2 + FORCE_GRACE_SECONDS + 0.5
    assert not step.done()  # abandoned, and the caller went on
    release.set()
    step.cancel()
    await asyncio.wait({step}, timeout=1)


async def test_a_failing_step_raises_its_own_error() -> None:
    async def boom() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await stop_within(boom(), 1, "failing")


class HangingSessions:
    """A session factory whose database never answers."""

    def __call__(self) -> Any:
        return self._session()

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[Any]:
        await asyncio.Event().wait()
        yield None  # pragma: no cover


async def test_the_call_log_writer_stops_in_bounded_time_when_the_database_hangs() -> None:
    writer = CallLogWriter(HangingSessions())  # type: ignore[arg-type]
    await writer.start()
    dropped = metrics.LOG_DROPPED._value.get()
    for n in range(5):
        writer.submit({"endpoint": f"/gopay/{n}"})
    started = time.monotonic()
    await asyncio.wait_for(writer.stop(seconds=0.5), 10)
    assert time.monotonic() - started < 0.5 + 2 * FORCE_GRACE_SECONDS + 0.5
    assert metrics.LOG_DROPPED._value.get() - dropped == 5  # counted, not silently lost


async def test_the_call_log_writer_flushes_within_its_deadline() -> None:
    writer = CallLogWriter(HangingSessions())  # type: ignore[arg-type]
    writer.submit({"endpoint": "/gopay"})
    started = time.monotonic()
    await asyncio.wait_for(writer.flush(seconds=0.3), 10)
    assert time.monotonic() - started < 0.3 + FORCE_GRACE_SECONDS + 0.5
