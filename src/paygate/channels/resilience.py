"""The layer above every adapter (R-CH-2 "Context", R-CH-4): per-account timeouts, a
circuit breaker, normalisation of stray exceptions into the contract's error kinds, metrics
and alerts. Services call adapters only through :class:`ChannelGuard`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
import structlog

from paygate.channels.contract import (
    ChannelAccount,
    ChannelError,
    ChannelTimeout,
    ChannelUnavailable,
    Operation,
    UnknownChannelStatus,
)
from paygate.kit import metrics

__all__ = ["ChannelGuard", "CircuitOpen", "Overloaded"]

T = TypeVar("T")
log = structlog.get_logger("paygate.channels")


class CircuitOpen(ChannelUnavailable):
    """The account's breaker is open: the call was not attempted."""


class Overloaded(ChannelUnavailable):
    """The account's bulkhead is full: the call was not attempted (R-CH-4)."""


@dataclass
class _Breaker:
    failures: int = 0
    opened_at: float | None = None
    half_open_probe: bool = False
    history: list[float] = field(default_factory=list)


class ChannelGuard:
    """Runs adapter calls with a deadline, a bulkhead and a circuit breaker per account.

    - **Deadline**: the adapter's own HTTP timeout (the account's ``timeout_seconds``) fires
      first; ``timeout_seconds + 2`` is the hard limit, so a channel that accepts the
      connection and never answers holds a call for a bounded time.
    - **Bulkhead** (R-CH-4): at most ``max_in_flight`` calls per account at once; a call that
      cannot get a slot within ``queue_seconds`` is refused as :class:`Overloaded` (nothing
      was sent). A hanging channel account therefore ties up a bounded share of paygate, and
      the other accounts and channels are not starved.
    - **Breaker**: it counts *technical* failures (retryable errors); business answers
      (declined, not found) prove the channel is healthy. After ``failure_threshold``
      consecutive failures it opens for ``reset_seconds``, then lets one probe through.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_seconds: float = 30.0,
        *,
        max_in_flight: int = 32,
        queue_seconds: float = 1.0,
    ) -> None:
        self._threshold = failure_threshold
        self._reset = reset_seconds
        self._max_in_flight = max_in_flight
        self._queue_seconds = queue_seconds
        self._breakers: dict[int, _Breaker] = {}
        self._bulkheads: dict[int, asyncio.Semaphore] = {}
        self._names: dict[int, str] = {}

    def _breaker(self, account_id: int) -> _Breaker:
        return self._breakers.setdefault(account_id, _Breaker())

    def is_open(self, account_id: int) -> bool:
        b = self._breaker(account_id)
        return b.opened_at is not None and time.monotonic() - b.opened_at < self._reset

    def states(self) -> dict[str, str]:
        """``"<channel>:<account id>"`` → ``closed`` | ``open`` | ``half_open``, for every
        account called so far (``/health``, ``/metrics``)."""
        out = {}
        for account_id, breaker in self._breakers.items():
            if breaker.opened_at is None:
                state = "closed"
            elif self.is_open(account_id) and not breaker.half_open_probe:
                state = "open"
            else:
                state = "half_open"
            out[f"{self._names.get(account_id, '?')}:{account_id}"] = state
        return out

    async def call(self, account: ChannelAccount, operation: Operation, fn: Callable[[], Awaitable[T]]) -> T:
        self._names[account.id] = account.channel
        breaker = self._breaker(account.id)
        if breaker.opened_at is not None:
            if time.monotonic() - breaker.opened_at < self._reset or breaker.half_open_probe:
                metrics.CHANNEL_CALLS.labels(account.channel, operation, "circuit_open").inc()
                raise CircuitOpen(f"{account.channel} account {account.id}: circuit open")
            breaker.half_open_probe = True
        slots = self._bulkheads.setdefault(account.id, asyncio.Semaphore(self._max_in_flight))
        try:
            await asyncio.wait_for(slots.acquire(), self._queue_seconds)
        except TimeoutError:
            breaker.half_open_probe = False
            metrics.CHANNEL_CALLS.labels(account.channel, operation, "overloaded").inc()
            raise Overloaded(
                f"{account.channel} account {account.id}: {self._max_in_flight} calls already in flight"
            ) from None
        in_flight = metrics.CHANNEL_IN_FLIGHT.labels(account.channel, str(account.id))
        in_flight.inc()
        try:
            return await self._call(account, operation, fn, breaker)
        finally:
            in_flight.dec()
            slots.release()
            metrics.CHANNEL_BREAKER_OPEN.labels(account.channel, str(account.id)).set(
                1 if self.is_open(account.id) else 0
            )

    async def _call(
        self, account: ChannelAccount, operation: Operation, fn: Callable[[], Awaitable[T]], breaker: _Breaker
    ) -> T:
        started = time.perf_counter()
        outcome = "ok"
        try:
            # the adapter's own HTTP timeout fires first; this is the hard deadline
            result = await asyncio.wait_for(fn(), timeout=account.timeout_seconds + 2.0)
        except ChannelError as exc:
            outcome = type(exc).__name__
            if isinstance(exc, UnknownChannelStatus):
                metrics.ALERTS.labels("unknown_channel_status", account.channel).inc()
                log.error(
                    "alert.unknown_channel_status",
                    channel=account.channel,
                    operation=operation,
                    message=exc.message,
                )
            self._record(breaker, failed=exc.retryable)
            raise
        except TimeoutError as exc:
            outcome = "timeout"
            self._record(breaker, failed=True)
            raise ChannelTimeout(f"{operation}: no answer within the deadline") from exc
        except httpx.TimeoutException as exc:
            outcome = "timeout"
            self._record(breaker, failed=True)
            raise ChannelTimeout(f"{operation}: {type(exc).__name__}") from exc
        except httpx.ConnectError as exc:
            outcome = "unavailable"
            self._record(breaker, failed=True)
            raise ChannelUnavailable(f"{operation}: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:  # sent, answer lost: the outcome is unknown
            outcome = "timeout"
            self._record(breaker, failed=True)
            raise ChannelTimeout(f"{operation}: {type(exc).__name__}") from exc
        finally:
            elapsed = time.perf_counter() - started
            metrics.CHANNEL_CALLS.labels(account.channel, operation, outcome).inc()
            metrics.CHANNEL_LATENCY.labels(account.channel, operation).observe(elapsed)
        self._record(breaker, failed=False)
        return result

    def _record(self, breaker: _Breaker, *, failed: bool) -> None:
        breaker.half_open_probe = False
        if not failed:
            breaker.failures = 0
            breaker.opened_at = None
            return
        breaker.failures += 1
        if breaker.failures >= self._threshold:
            if breaker.opened_at is None:
                log.warning("alert.circuit_opened", failures=breaker.failures)
                metrics.ALERTS.labels("circuit_opened", "").inc()
            breaker.opened_at = time.monotonic()
