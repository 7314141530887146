"""Delivery of notifications to the merchant's ``notify_url`` on WeChat's retry schedule.

An attempt is acknowledged by HTTP 200 or 204; anything else (another status, a
timeout, a refused connection, a dropped attempt) is retried after 15s, 15s, 30s, 3m,
10m, 20m, 30m, 30m, 30m, 60m, 3h, 3h, 3h, 6h, 6h — each multiplied by ``time_scale`` —
then given up: 16 attempts in about 24 hours.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from .faults import Faults
from .keys import Platform
from .notifications import Event
from .state import now_cst, rfc3339
from .wire import signature_headers

__all__ = ["DELIVERY_TIMEOUT_SECONDS", "RETRY_SCHEDULE_SECONDS", "Delivery", "Notifier"]

log = logging.getLogger(__name__)

RETRY_SCHEDULE_SECONDS: tuple[int, ...] = (
    15, 15, 30, 3 * 60, 10 * 60, 20 * 60, 30 * 60, 30 * 60, 30 * 60,
    60 * 60, 3 * 3600, 3 * 3600, 3 * 3600, 6 * 3600, 6 * 3600,
)  # fmt: skip
DELIVERY_TIMEOUT_SECONDS = 5.0
# Notifications published within this window are sent together when "reorder" is on.
REORDER_WINDOW_SECONDS = 0.2
ACK_STATUSES = frozenset({200, 204})


@dataclass
class Delivery:
    """One attempt, as recorded for tests and ``GET /_sandbox/notifications``."""

    event_id: str
    event_type: str
    out_trade_no: str
    out_refund_no: str | None
    attempt: int
    # Unscaled seconds waited before this attempt (0 for the first).
    scheduled_delay: int
    at: str
    outcome: str  # sending | acknowledged | rejected | error | dropped
    status: int | None = None
    error: str | None = None
    duplicate: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


STOP_GRACE_SECONDS = 1.0


async def cancel_all(tasks: set[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and give them a moment to finish (a DNS look-up running in a
    thread cannot be interrupted, so don't wait for it)."""
    pending = list(tasks)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=STOP_GRACE_SECONDS)


class Notifier:
    def __init__(
        self,
        platform: Platform,
        faults: Faults,
        time_scale: float,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._platform = platform
        self._faults = faults
        self._scale = time_scale
        self._http = http
        self._owns_http = http is None
        self._started = False
        self._pending: list[Event] = []
        self._reorder_buffer: list[Event] = []
        self._reorder_timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.deliveries: list[Delivery] = []
        self.events: dict[str, Event] = {}
        # event id -> pending | acknowledged | abandoned
        self.status: dict[str, str] = {}

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=DELIVERY_TIMEOUT_SECONDS, follow_redirects=False, trust_env=False
            )
            self._owns_http = True
        self._started = True
        pending, self._pending = self._pending, []
        for event in pending:
            self.publish(event)

    async def stop(self) -> None:
        self._started = False
        if self._reorder_timer is not None:
            self._reorder_timer.cancel()
            self._reorder_timer = None
        self._pending = self._reorder_buffer + self._pending
        self._reorder_buffer = []
        await cancel_all(self._tasks)
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- publishing --------------------------------------------------------------------------

    def publish(self, event: Event) -> None:
        """Queue ``event`` for delivery (held until :meth:`start` if not started)."""
        self.events[event.id] = event
        self.status.setdefault(event.id, "pending")
        if not self._started:
            self._pending.append(event)
            return
        if self._faults.notify.reorder:
            self._reorder_buffer.append(event)
            if len(self._reorder_buffer) >= 2:
                self._flush_reordered()
            elif self._reorder_timer is None:
                loop = asyncio.get_running_loop()
                self._reorder_timer = loop.call_later(REORDER_WINDOW_SECONDS, self._flush_reordered)
            return
        self._spawn(self._deliver([event]))

    def _flush_reordered(self) -> None:
        if self._reorder_timer is not None:
            self._reorder_timer.cancel()
            self._reorder_timer = None
        batch, self._reorder_buffer = self._reorder_buffer, []
        if batch:
            self._spawn(self._deliver(list(reversed(batch))))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- delivery ----------------------------------------------------------------------------

    async def _deliver(self, events: list[Event]) -> None:
        """First attempts in the given order, then each event's retries on its own."""
        for event in events:
            acknowledged = await self._attempt(event, 1, 0)
            self._spawn(self._follow_up(event, acknowledged))

    async def _follow_up(self, event: Event, acknowledged: bool) -> None:
        attempt = 1
        for delay in RETRY_SCHEDULE_SECONDS:
            if acknowledged:
                break
            await asyncio.sleep(delay * self._scale)
            attempt += 1
            acknowledged = await self._attempt(event, attempt, delay)
        if not acknowledged:
            self.status[event.id] = "abandoned"
            log.warning("wechatpay sandbox gave up notifying %s (%s)", event.id, event.event_type)
            return
        self.status[event.id] = "acknowledged"
        if self._faults.take_duplicate():
            await self._attempt(event, attempt + 1, 0, duplicate=True)

    async def _attempt(self, event: Event, attempt: int, delay: int, *, duplicate: bool = False) -> bool:
        record = Delivery(
            event_id=event.id,
            event_type=event.event_type,
            out_trade_no=event.out_trade_no,
            out_refund_no=event.out_refund_no,
            attempt=attempt,
            scheduled_delay=delay,
            at=rfc3339(now_cst()),
            outcome="sending",
            duplicate=duplicate,
        )
        self.deliveries.append(record)
        if not duplicate and self._faults.take_drop():
            record.outcome = "dropped"
            return False
        assert self._http is not None, "notifier not started"
        headers = signature_headers(self._platform, event.body, public_key_mode=event.public_key_mode)
        headers["Content-Type"] = "application/json"
        headers["User-Agent"] = "Mozilla/4.0"
        try:
            response = await self._http.post(
                event.url, content=event.body, headers=headers, timeout=DELIVERY_TIMEOUT_SECONDS
            )
        except httpx.HTTPError as exc:
            record.outcome, record.error = "error", type(exc).__name__
            log.info("wechatpay sandbox notify %s attempt %d: %s", event.id, attempt, record.error)
            return False
        record.status = response.status_code
        record.outcome = "acknowledged" if response.status_code in ACK_STATUSES else "rejected"
        return record.outcome == "acknowledged"

    # -- inspection ----------------------------------------------------------------------------

    def idle(self) -> bool:
        return not self._tasks and not self._pending and not self._reorder_buffer

    def history(self) -> list[dict[str, Any]]:
        return [d.to_json() for d in self.deliveries]
