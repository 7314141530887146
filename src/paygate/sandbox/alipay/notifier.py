"""Delivering asynchronous notifications the way Alipay does.

A delivery is a form POST to the merchant's ``notify_url``, re-signed for each attempt
(``notify_time`` changes; ``notify_id`` never does). It is done once the body of the
answer is exactly ``success``; otherwise it is tried again after 4m, 10m, 10m, 1h, 2h,
6h and 15h — 8 attempts in about 25 hours — each delay multiplied by the sandbox's
``time_scale``. Faults (drop, duplicate, reorder) are applied per attempt.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import httpx

from paygate.sandbox.alipay.clock import SandboxClock, format_time
from paygate.sandbox.alipay.faults import Faults
from paygate.sandbox.alipay.wire import encode_form

__all__ = ["RETRY_DELAYS", "Attempt", "Delivery", "Notifier"]

#: Seconds before each attempt, counted from the previous one.
RETRY_DELAYS: Final = (0.0, 4 * 60.0, 10 * 60.0, 10 * 60.0, 3600.0, 2 * 3600.0, 6 * 3600.0, 15 * 3600.0)
NOTIFY_TIMEOUT: Final = httpx.Timeout(15.0)
_BODY_KEPT = 200

Signer = Callable[[dict[str, str], str, str], dict[str, str]]


@dataclass
class Attempt:
    at: str
    outcome: Literal["success", "failed", "error", "dropped"]
    status: int | None = None
    body: str = ""


@dataclass
class Delivery:
    notify_id: str
    url: str
    params: dict[str, str]
    sign_type: str
    codec: str
    attempts: list[Attempt] = field(default_factory=list)
    slot: int = 0
    succeeded: bool = False
    gave_up: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "notify_id": self.notify_id,
            "notify_url": self.url,
            "out_trade_no": self.params.get("out_trade_no"),
            "trade_status": self.params.get("trade_status"),
            "params": self.params,
            "attempts": [a.__dict__ for a in self.attempts],
            "succeeded": self.succeeded,
            "gave_up": self.gave_up,
        }


class Notifier:
    def __init__(
        self,
        *,
        sign: Signer,
        clock: SandboxClock,
        faults: Faults,
        time_scale: float,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._sign = sign
        self._clock = clock
        self._faults = faults
        self._scale = time_scale
        self._http = http
        self._own_http: httpx.AsyncClient | None = None
        self._deliveries: list[Delivery] = []
        self._due: list[tuple[float, int, Delivery]] = []
        self._seq = itertools.count()
        self._held: list[Delivery] = []
        self._wakeup: asyncio.Event | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        faults.subscribe(self._faults_changed)

    @property
    def deliveries(self) -> list[Delivery]:
        return list(self._deliveries)

    def enqueue(self, delivery: Delivery) -> None:
        self._deliveries.append(delivery)
        self._schedule(delivery, 0.0)

    async def start(self) -> None:
        if self._loop_task is not None:
            return
        if self._http is None:
            self._own_http = httpx.AsyncClient(timeout=NOTIFY_TIMEOUT)
        self._wakeup = asyncio.Event()
        self._loop_task = asyncio.create_task(self._run(), name="alipay-sandbox-notifier")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop_task, self._wakeup = None, None
        self._tasks.clear()
        if self._own_http is not None:
            await self._own_http.aclose()
            self._own_http = None

    # -- scheduling ---------------------------------------------------------------------

    def _schedule(self, delivery: Delivery, delay: float) -> None:
        now = asyncio.get_running_loop().time() if self._loop_task else 0.0
        heapq.heappush(self._due, (now + delay * self._scale, next(self._seq), delivery))
        if self._wakeup is not None:
            self._wakeup.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        # Deliveries queued before start() were stamped 0.0: they are due at once.
        assert self._wakeup is not None
        while True:
            now = loop.time()
            while self._due and self._due[0][0] <= now:
                _, _, delivery = heapq.heappop(self._due)
                self._spawn(self._attempt(delivery))
            timeout = self._due[0][0] - now if self._due else None
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            except TimeoutError:
                pass

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _next_slot(self, delivery: Delivery) -> None:
        if delivery.succeeded:
            return
        delivery.slot += 1
        if delivery.slot < len(RETRY_DELAYS):
            self._schedule(delivery, RETRY_DELAYS[delivery.slot])
        else:
            delivery.gave_up = True

    # -- one attempt --------------------------------------------------------------------

    async def _attempt(self, delivery: Delivery) -> None:
        if self._faults.take_drop():
            delivery.attempts.append(Attempt(format_time(self._clock.now()), "dropped"))
            self._next_slot(delivery)
            return
        window = self._faults.reorder_window
        if window > 0:
            self._held.append(delivery)
            if len(self._held) >= window:
                await self._release(reverse=True)
            return
        if self._held:
            await self._release(reverse=False)
        await self._send(delivery)

    async def _release(self, *, reverse: bool) -> None:
        batch, self._held = self._held, []
        for delivery in reversed(batch) if reverse else batch:
            await self._send(delivery)

    def _faults_changed(self) -> None:
        if not self._held or self._loop_task is None:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # changed from another thread: released at the next attempt
            return
        window = self._faults.reorder_window
        if window == 0:
            self._spawn(self._release(reverse=False))
        elif len(self._held) >= window:
            self._spawn(self._release(reverse=True))

    async def _send(self, delivery: Delivery) -> None:
        copies = 2 if self._faults.duplicate else 1
        for _ in range(copies):
            await self._post(delivery)
        self._next_slot(delivery)

    async def _post(self, delivery: Delivery) -> None:
        now = self._clock.now()
        params = self._sign(
            {**delivery.params, "notify_time": format_time(now)}, delivery.sign_type, delivery.codec
        )
        charset = "utf-8" if delivery.codec == "utf-8" else "gbk"
        http = self._http or self._own_http
        assert http is not None
        try:
            response = await http.post(
                delivery.url,
                content=encode_form(params, delivery.codec).encode("ascii"),
                headers={"Content-Type": f"application/x-www-form-urlencoded; charset={charset}"},
            )
        except httpx.HTTPError as exc:
            delivery.attempts.append(Attempt(format_time(now), "error", None, repr(exc)[:_BODY_KEPT]))
            return
        text = response.content.decode("utf-8", "replace")
        ok = text == "success"
        delivery.succeeded = delivery.succeeded or ok
        delivery.attempts.append(
            Attempt(format_time(now), "success" if ok else "failed", response.status_code, text[:_BODY_KEPT])
        )
