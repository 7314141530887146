"""Sending one notification over HTTP: the seam between the dispatcher and an HTTP client.

aiohttp, not httpx (which paygate uses for channels): a dispatcher keeps a hundred requests
in flight, and httpx's connection pool costs CPU that grows with that number — with it one
dispatcher process managed ≈ 300 notifications a second, with aiohttp several times more
(docs/benchmarks.md, "Event dispatch"). The session is made on first use, inside the running
event loop, and holds keep-alive connections per app host.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

import aiohttp

__all__ = ["AiohttpSender", "Answer", "SendTimeout", "SendUnreachable", "WebhookSender"]

#: How much of an app's answer is read (the rest is dropped with the connection).
READ_BYTES = 1024


@dataclass(frozen=True)
class Answer:
    status: int
    excerpt: str


class SendTimeout(Exception):
    """The app did not answer in time (it may have got the notification)."""


class SendUnreachable(Exception):
    """No answer at all: refused connection, unknown host, TLS failure, bad URL."""


class WebhookSender(Protocol):
    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer: ...

    async def aclose(self) -> None: ...


class AiohttpSender:
    def __init__(self, *, concurrency: int, timeout_seconds: float) -> None:
        self._concurrency = concurrency
        self._timeout = timeout_seconds
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._concurrency, limit_per_host=self._concurrency, keepalive_timeout=30
                ),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        try:
            request = self._client().post(url, data=body, headers=headers, allow_redirects=False)
            async with request as response:
                raw = await response.content.read(READ_BYTES)
                return Answer(response.status, raw.decode("utf-8", "replace"))
        except TimeoutError as exc:
            raise SendTimeout(f"no answer within {self._timeout:g} s") from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise SendUnreachable(f"{type(exc).__name__}: {exc}"[:200]) from exc

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await asyncio.wait_for(session.close(), 5)
