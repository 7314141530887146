"""Automatic pipelining for redis-py's asyncio client (issue 11: round trips per request).

Every request spends a nonce (``SET NX EX``) and every committed change publishes a cache
invalidation. Under load many requests do so in the same turn of the event loop; sent one by
one, each command pays redis-py's whole per-command path (take a connection from the pool,
check it, write, read, give it back) and a round trip of its own. :class:`RedisBatcher` queues
the commands issued during one turn of the loop and sends them as one non-transactional
pipeline when the loop next runs its callbacks — the technique ioredis calls auto-pipelining.
Each caller awaits its own command's reply and sees its own command's error; a batch that
cannot be sent (Redis unreachable) fails every command in it with that error, as each would
have failed alone. Nothing waits for a timer: a lone command is sent on the next loop turn.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["RedisBatcher"]


class RedisBatcher:
    def __init__(self, redis: Any, max_batch: int = 256) -> None:
        self._redis = redis
        self._max = max_batch
        self._queue: list[tuple[tuple[Any, ...], dict[str, Any], asyncio.Future[Any]]] = []
        #: the loop a flush is scheduled on: a flush left behind by a loop that closed before
        #: running it must not hold the next loop's commands back
        self._scheduled_on: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def execute(self, *args: Any, **options: Any) -> Any:
        """Run one Redis command (as ``redis.execute_command`` would) in the next batch."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((args, options, future))
        if self._scheduled_on is not loop:
            self._scheduled_on = loop
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        self._scheduled_on = None
        queue, self._queue = self._queue, []
        # a command of a loop that is gone has no caller left to answer
        queue = [entry for entry in queue if entry[2].get_loop() is loop and not entry[2].done()]
        for start in range(0, len(queue), self._max):
            task = loop.create_task(self._send(queue[start : start + self._max]))
            self._tasks.add(task)  # keep a reference until it is done
            task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[tuple[tuple[Any, ...], dict[str, Any], asyncio.Future[Any]]]) -> None:
        try:
            if len(batch) == 1:
                args, options, _ = batch[0]
                replies: list[Any] = [await self._redis.execute_command(*args, **options)]
            else:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for args, options, _ in batch:
                        pipe.execute_command(*args, **options)
                    replies = await pipe.execute(raise_on_error=False)
        except BaseException as exc:
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else ConnectionError(repr(exc)))
            if not isinstance(exc, Exception):
                raise
            return
        for (_, _, future), reply in zip(batch, replies, strict=True):
            if future.done():  # the caller was cancelled meanwhile
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)
