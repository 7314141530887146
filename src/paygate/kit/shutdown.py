"""Stopping things within a deadline.

Every stop in paygate (listeners, sandboxes, the call-log writer, pools and clients) goes
through :func:`stop_within`: the step gets ``seconds`` to finish on its own (graceful); then
it is cancelled and gets :data:`FORCE_GRACE_SECONDS` more (forced); if even that does not end
it — a task that swallows its cancellation, or waits in a ``finally`` — it is abandoned with
an ``alert.shutdown_abandoned`` log line and the caller goes on. A stop never waits for ever.

Why this is needed on Python 3.11: ``asyncio.wait_for`` returns the inner result instead of
raising ``CancelledError`` when the task is cancelled in the same loop iteration as the
awaited thing completes (CPython gh-86296, fixed in 3.12). A background loop written as
``while True: await asyncio.wait_for(event.wait(), timeout)`` therefore survives a
``cancel()`` that races with ``event.set()``, and whoever awaits it after cancelling waits
for ever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import structlog

__all__ = ["DEFAULT_STEP_SECONDS", "FORCE_GRACE_SECONDS", "stop_within"]

log = structlog.get_logger("paygate.shutdown")

#: What one stop step (a sandbox, a worker, a pool) gets before it is cancelled.
DEFAULT_STEP_SECONDS = 5.0
#: What a cancelled step gets to unwind before it is abandoned.
FORCE_GRACE_SECONDS = 1.0


async def stop_within(step: Awaitable[object], seconds: float, what: str) -> bool:
    """Await ``step`` for at most ``seconds``, then cancel it and wait at most
    :data:`FORCE_GRACE_SECONDS` more. True when it finished on its own in time; False when
    it had to be cancelled or abandoned. An exception raised by the step itself propagates."""
    task = asyncio.ensure_future(step)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
        if not done:
            log.warning("shutdown.overran", step=what, seconds=seconds)
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=FORCE_GRACE_SECONDS)
            if not done:
                log.error("alert.shutdown_abandoned", step=what)
                return False
            if not task.cancelled():
                task.result()  # the step's own error, if any
            return False
    except asyncio.CancelledError:
        task.cancel()
        raise
    task.result()
    return True
