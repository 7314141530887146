"""Small helpers for end-to-end tests."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import func, select

from tests.support.stack import Stack

_orders = itertools.count(1)


def order_no(prefix: str = "ORDER") -> str:
    return f"{prefix}-{next(_orders)}-{id(_orders) % 10000}"


async def buyer(stack: Stack, channel: str, trade: str, outcome: str = "pay") -> httpx.Response:
    """What ``paygate sandbox pay CHANNEL TRADE`` does: act as the buyer in the sandbox."""
    async with httpx.AsyncClient() as http:
        return await http.post(
            f"{stack.sandbox_url}/{channel}/_sandbox/pay",
            json={"trade": trade, "outcome": outcome},
            timeout=10,
        )


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy (notifications are asynchronous)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def count(stack: Stack, model: Any, *where: Any) -> int:
    async with stack.container.sessions() as session:
        return int(
            (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
        )


async def rows(stack: Stack, model: Any, *where: Any) -> list[Any]:
    async with stack.container.sessions() as session:
        return list((await session.execute(select(model).where(*where).order_by(model.id))).scalars())
