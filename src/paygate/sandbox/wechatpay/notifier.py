"""Delivering notifications to the merchant's ``notify_url`` the way WeChat Pay does.

A delivery is a JSON POST re-signed for each attempt (fresh ``Wechatpay-Timestamp`` and
nonce; the body — and its ``id`` — never changes). It is acknowledged by HTTP 200 or 204;
anything else (another status, a timeout, a refused connection, a dropped attempt) is
tried again after 15s, 15s, 30s, 3m, 10m, 20m, 30m, 30m, 30m, 60m, 3h, 3h, 3h, 6h, 6h —
16 attempts in about 24 hours — each delay multiplied by the sandbox's ``time_scale``.
Faults (drop, duplicate, reorder) apply per attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

import httpx

from .faults import Faults
from .keys import Platform
from .notifications import Event
from .state import rfc3339
from .wire import signature_headers

__all__ = [
    "DELIVERY_TIMEOUT_SECONDS",
    "RETRY_SCHEDULE_SECONDS",
    "Attempt",
    "Delivery",
    "Notifier",
    "cancel_all",
]

log = logging.getLogger(__name__)

#: Seconds between one attempt and the next (before time_scale).
RETRY_SCHEDULE_SECONDS: tuple[int, ...] = (
    15, 15, 30, 3 * 60, 10 * 60, 20 * 60, 30 * 60, 30 * 60, 30 * 60,
    60 * 60, 3 * 3600, 3 * 3600, 3 * 3600, 6 * 3600, 6 * 3600,
)  # fmt: skip
DELIVERY_TIMEOUT_SECONDS = 5.0
ACK_STATUSES = frozenset({200, 204})
STOP_GRACE_SECONDS = 1.0


@dataclass
class Attempt:
    at: str
    outcome: Literal["success", "failed", "error", "dropped"]
    status: int | None = None
    # Unscaled seconds waited since the previous attempt (0 for the first).
    scheduled_delay: int = 0
    duplicate: bool = False
    error: str | None = None


@dataclass
class Delivery:
    event: Event
    attempts: list[Attempt] = field(default_factory=list)
    slot: int = 0  # how many retries have been scheduled
    succeeded: bool = False
    gave_up: bool = False

    @property
    def id(self) -> str:
        return self.event.id

    def to_json(self) -> dict[str, Any]:
        event = self.event
        return {
            "id": event.id,
            "event_type": event.event_type,
            "notify_url": event.url,
            "mchid": event.mchid,
            "out_trade_no": event.out_trade_no,
            "out_refund_no": event.out_refund_no,
            "attempts": [asdict(a) for a in self.attempts],
            "succeeded": self.succeeded,
            "gave_up": self.gave_up,
        }


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
        now: Callable[[], datetime],
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._platform = platform
        self._faults = faults
        self._scale = time_scale
        self._now = now
        self._http = http
        self._own_http: httpx.AsyncClient | None = None
        self._started = False
        self._pending: list[Delivery] = []
        self._held: list[tuple[Delivery, int]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.deliveries: list[Delivery] = []
        faults.subscribe(self._faults_changed)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        if self._http is None and self._own_http is None:
            self._own_http = httpx.AsyncClient(
                timeout=DELIVERY_TIMEOUT_SECONDS, follow_redirects=False, trust_env=False
            )
        self._started = True
        pending, self._pending = self._pending, []
        for delivery in pending:
            self._schedule(delivery, 0)

    async def stop(self) -> None:
        self._started = False
        await cancel_all(self._tasks)
        if self._own_http is not None:
            await self._own_http.aclose()
            self._own_http = None

    # -- publishing ------------------------------------------------------------------------

    def publish(self, event: Event) -> Delivery:
        """Deliver ``event`` (held until :meth:`start` if not started)."""
        delivery = Delivery(event)
        self.deliveries.append(delivery)
        if self._started:
            self._schedule(delivery, 0)
        else:
            self._pending.append(delivery)
        return delivery

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _schedule(self, delivery: Delivery, delay: int) -> None:
        async def later() -> None:
            if delay:
                await asyncio.sleep(delay * self._scale)
            await self._attempt(delivery, delay)

        self._spawn(later())

    def _next_slot(self, delivery: Delivery) -> None:
        if delivery.succeeded:
            return
        if delivery.slot < len(RETRY_SCHEDULE_SECONDS):
            delay = RETRY_SCHEDULE_SECONDS[delivery.slot]
            delivery.slot += 1
            self._schedule(delivery, delay)
        else:
            delivery.gave_up = True
            log.warning("wechatpay sandbox gave up notifying %s (%s)", delivery.id,
                        delivery.event.event_type)  # fmt: skip

    # -- one attempt -------------------------------------------------------------------------

    async def _attempt(self, delivery: Delivery, delay: int) -> None:
        if self._faults.take_drop():
            delivery.attempts.append(Attempt(rfc3339(self._now()), "dropped", None, delay))
            self._next_slot(delivery)
            return
        window = self._faults.reorder_window
        if window > 0:
            self._held.append((delivery, delay))
            if len(self._held) >= window:
                await self._release(reverse=True)
            return
        if self._held:
            await self._release(reverse=False)
        await self._send(delivery, delay)

    async def _release(self, *, reverse: bool) -> None:
        batch, self._held = self._held, []
        for delivery, delay in reversed(batch) if reverse else batch:
            await self._send(delivery, delay)

    def _faults_changed(self) -> None:
        if not self._held or not self._started:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # changed outside the loop: released at the next attempt
            return
        window = self._faults.reorder_window
        if window == 0:
            self._spawn(self._release(reverse=False))
        elif len(self._held) >= window:
            self._spawn(self._release(reverse=True))

    async def _send(self, delivery: Delivery, delay: int) -> None:
        copies = 2 if self._faults.duplicate else 1
        for copy in range(copies):
            await self._post(delivery, delay, duplicate=copy > 0)
        self._next_slot(delivery)

    async def _post(self, delivery: Delivery, delay: int, *, duplicate: bool) -> None:
        event = delivery.event
        at = rfc3339(self._now())
        headers = signature_headers(self._platform, event.body, public_key_mode=event.public_key_mode)
        headers["Content-Type"] = "application/json"
        headers["User-Agent"] = "Mozilla/4.0"
        http = self._http or self._own_http
        assert http is not None, "notifier not started"
        try:
            response = await http.post(
                event.url, content=event.body, headers=headers, timeout=DELIVERY_TIMEOUT_SECONDS
            )
        except httpx.HTTPError as exc:
            delivery.attempts.append(Attempt(at, "error", None, delay, duplicate, type(exc).__name__))
            return
        ok = response.status_code in ACK_STATUSES
        delivery.succeeded = delivery.succeeded or ok
        delivery.attempts.append(
            Attempt(at, "success" if ok else "failed", response.status_code, delay, duplicate)
        )

    # -- inspection ------------------------------------------------------------------------

    def idle(self) -> bool:
        """Nothing in flight, scheduled or held."""
        return not self._tasks and not self._pending and not self._held
