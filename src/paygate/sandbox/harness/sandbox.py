"""What a channel's sandbox is made of: its :class:`Harness` (the generic machinery) and
:class:`HarnessedSandbox`, the base of every ``<channel>.Sandbox`` class.

A channel's sandbox builds its harness with the few things only it knows — its time zone,
its delivery policy (retry schedule, acknowledgement), how its error faults read, its
operations and refund outcomes — and adds its protocol: endpoints, objects, signatures,
pages, bills. The base class serves the rest of :class:`paygate.sandbox.base.ChannelSandbox`
and the Python twin of the control API.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from paygate.sandbox.base import SandboxConfig
from paygate.sandbox.harness.asgi import AbsoluteFormMiddleware
from paygate.sandbox.harness.clock import Clock
from paygate.sandbox.harness.control import ControlError, Controls, control_routes
from paygate.sandbox.harness.faults import Faults
from paygate.sandbox.harness.faultspec import BILL_DAMAGE, ErrorParser
from paygate.sandbox.harness.notifier import Delivery, DeliveryPolicy, Notifier
from paygate.sandbox.harness.pages import Pages
from paygate.sandbox.harness.scheduler import Scheduler

__all__ = ["Harness", "HarnessedSandbox"]

#: How long stop() waits for a notifier's own HTTP client to close.
_CLOSE_SECONDS = 1.0


class Harness:
    """The clock, scheduler, faults, notifier and pages of one sandbox instance."""

    def __init__(
        self,
        config: SandboxConfig,
        *,
        name: str,
        delivery: DeliveryPolicy,
        parse_error: ErrorParser,
        operations: Collection[str] | None = None,
        refund_outcomes: Collection[str] = (),
        bill_damage: Collection[str] = BILL_DAMAGE,
        templates: Path,
        tz: tzinfo = UTC,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self.name = name
        self.clock = Clock(tz)
        self.scheduler = Scheduler(config.time_scale, name=name)
        self.faults = Faults(
            parse_error=parse_error,
            operations=operations,
            refund_outcomes=refund_outcomes,
            bill_damage=bill_damage,
        )
        self.notifier = Notifier(
            delivery, scheduler=self.scheduler, faults=self.faults, clock=self.clock, http=http, name=name
        )
        self.pages = Pages(templates)
        self._started = False

    @property
    def public_url(self) -> str:
        """Where the channel is reached: ``config.base_url + "/" + name``."""
        return f"{self.config.base_url.rstrip('/')}/{self.name}"

    async def start(self) -> None:
        await self.notifier.start()
        await self.scheduler.start()
        self._started = True

    async def stop(self) -> None:
        """Bounded: held and hung requests are let go, delivery tasks cancelled (waited for at
        most ``STOP_GRACE_SECONDS``), the notifier's own client closed."""
        self.faults.release()
        await self.scheduler.stop()
        await asyncio.wait_for(self.notifier.stop(), _CLOSE_SECONDS * 2)
        self._started = False


class HarnessedSandbox(ABC):
    """Base of the channel sandboxes; satisfies :class:`paygate.sandbox.base.ChannelSandbox`.
    Subclasses set ``name``, build ``self.harness`` and implement :meth:`credentials`,
    :meth:`_routes` (their endpoints) and :meth:`_controls`."""

    name: str
    harness: Harness

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._app: ASGIApp | None = None

    # -- ChannelSandbox -------------------------------------------------------------------

    @property
    def app(self) -> ASGIApp:
        """The ASGI app, mounted at ``/<name>``: the channel's routes, then the control API."""
        if self._app is None:
            routes = [*control_routes(self.harness, self._controls()), *self._routes()]
            self._app = AbsoluteFormMiddleware(Starlette(routes=routes))
        return self._app

    async def start(self) -> None:
        """Start background work: notification delivery and the channel's delayed changes."""
        await self.harness.start()

    async def stop(self) -> None:
        await self.harness.stop()

    @abstractmethod
    def credentials(self) -> dict[str, Any]:
        """The demo merchant's credentials (what ``paygate sandbox credentials`` prints)."""

    @abstractmethod
    def _routes(self) -> list[BaseRoute]:
        """The channel's own routes (its API, pages, extra control routes)."""

    @abstractmethod
    def _controls(self) -> Controls:
        """The channel's side of the control API."""

    # -- the control API from Python ------------------------------------------------------

    @property
    def faults(self) -> Faults:
        return self.harness.faults

    def set_faults(self, spec: Mapping[str, Any] | None = None, /, **kinds: Any) -> dict[str, Any]:
        """Merge faults (:meth:`Faults.update`'s JSON, or its keys as keywords); returns the
        faults in force. Raises :class:`~.faults.FaultSpecError` (a ``ValueError``)."""
        self.harness.faults.update({**(spec or {}), **kinds})
        return self.harness.faults.to_json()

    def clear_faults(self) -> None:
        """Remove every fault and let held requests and notifications go."""
        self.harness.faults.clear()

    def faults_json(self) -> dict[str, Any]:
        return self.harness.faults.to_json()

    def pay(self, trade: str, outcome: str = "pay", **options: Any) -> dict[str, Any]:
        """What ``POST /_sandbox/pay`` does: the trade's view after the payer's ``outcome``.
        ``options`` are the channel's (``buyer_id``, ``mchid``, …). Raises ControlError."""
        controls = self._controls()
        if outcome not in controls.outcomes:
            raise ControlError(400, "bad_outcome", f"outcome must be one of {', '.join(controls.outcomes)}")
        return controls.pay(trade, outcome, {k: v for k, v in options.items() if v is not None})

    def trade(self, ref: str, **scope: str | None) -> dict[str, Any] | None:
        """The trade's view (as ``GET /_sandbox/trades/{ref}``), or None if unknown/ambiguous."""
        try:
            return self._controls().trade(ref, {k: v for k, v in scope.items() if v is not None})
        except ControlError:
            return None

    def advance_clock(self, seconds: float) -> None:
        """Move sandbox time on (deadlines, timestamps, bill dates) and do what became due."""
        self.harness.clock.advance(seconds)
        self._controls().clock_moved()

    @property
    def notifications(self) -> list[Delivery]:
        """Every notification and its delivery attempts so far."""
        return self.harness.notifier.deliveries

    def notifications_idle(self) -> bool:
        """True when no delivery is in flight, scheduled or held."""
        return self.harness.notifier.idle()
