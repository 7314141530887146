"""Everything one sandbox instance owns, passed explicitly to each module (no globals)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from paygate.sandbox.base import SandboxConfig

from .faults import Faults
from .keys import Merchant, Platform
from .notifier import Notifier, cancel_all
from .state import Clock, Store

__all__ = ["MOUNT", "REFUND_SETTLE_SECONDS", "BillFile", "Context"]

MOUNT = "/wechatpay"
# Unscaled seconds a refund stays PROCESSING before it settles (balance refunds take
# seconds at WeChat; bank-card ones days).
REFUND_SETTLE_SECONDS = 5.0


@dataclass(frozen=True)
class BillFile:
    mchid: str
    content: bytes  # as served (gzip-compressed when tar_type=GZIP)
    expires_at: float  # loop time


@dataclass
class Context:
    config: SandboxConfig
    platform: Platform
    merchants: dict[str, Merchant]
    faults: Faults
    notifier: Notifier
    clock: Clock
    store: Store = field(default_factory=Store)
    bills: dict[str, BillFile] = field(default_factory=dict)
    refund_settle_seconds: float = REFUND_SETTLE_SECONDS
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set, repr=False)

    @property
    def base_url(self) -> str:
        return self.config.base_url.rstrip("/") + MOUNT

    @property
    def time_scale(self) -> float:
        return self.config.time_scale

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel_tasks(self) -> None:
        await cancel_all(self._tasks)
