"""The Stripe API client: form encoding, Bearer auth, a pinned ``Stripe-Version``,
idempotency keys, bounded retries and error mapping.

It knows the wire protocol only (no paygate statuses): :meth:`StripeClient.get` and
:meth:`StripeClient.post` return the JSON object of a 2xx answer and raise a
:mod:`~paygate.channels.contract` exception for everything else. Every call records one
:class:`~paygate.channels.contract.Exchange` (method, path, parameters, idempotency key,
attempts, the answer) with client secrets masked; the API key travels only in the
``Authorization`` header and is never recorded.

Retries (as Stripe's own libraries do): connection failures, timeouts, 409 (an idempotent
request still in flight / a lock), 429 ``lock_timeout`` and 5xx are tried again, at most
``max_retries`` times with exponential backoff and jitter, **with the same
Idempotency-Key**, so Stripe replays a request that did go through instead of repeating
it. ``Stripe-Should-Retry: true|false`` overrides that choice. All attempts of one call
share the account's ``timeout_seconds`` (the resilience layer's hard deadline is that plus
two seconds): a retry is made only while time is left, so a slow first attempt is not
repeated, while quick failures (a refused connection, a 500) are.

Error mapping (after the retries)::

    connect error / connect or pool timeout   ChannelUnavailable  (surely not sent)
    read / write timeout, dropped connection  ChannelTimeout      (outcome unknown)
    409, 429, 5xx, type api_error             read: ChannelUnavailable, write: ChannelTimeout
    402 / type card_error                     ChannelBusinessError(code, sub_code=decline_code)
    401 / 403 (key or permission: config)     ChannelBusinessError
    type idempotency_error                    ChannelBusinessError(code="idempotency_error")
    400 / 404 invalid_request_error           ChannelBusinessError(code) — 404 resource_missing
                                              is "not found", decided per operation
    2xx that is not a JSON object, an error   ChannelProtocolError
    without a readable body, other statuses

A write that may have reached Stripe once stays ChannelTimeout even if a later attempt
could not connect: the outcome is unknown, never "surely not processed".
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import httpx

from paygate.channels.contract import (
    ChannelAccount,
    ChannelBusinessError,
    ChannelError,
    ChannelProtocolError,
    ChannelTimeout,
    ChannelUnavailable,
    Exchange,
)
from paygate.channels.stripe.protocol import API_VERSION, encode_form, mask_wire

__all__ = ["DEFAULT_MAX_RETRIES", "DEFAULT_RETRY_DELAY", "StripeClient", "StripeReply"]

#: Retries after the first attempt (stripe-python's default is 2 as well).
DEFAULT_MAX_RETRIES: Final = 2
#: The first backoff delay in seconds; doubled per retry, jittered, capped.
DEFAULT_RETRY_DELAY: Final = 0.5
MAX_RETRY_DELAY: Final = 5.0
#: A retry is not started with less time than this left in the call's budget.
MIN_ATTEMPT_SECONDS: Final = 0.2
_USER_AGENT: Final = "paygate-stripe/1"
_RESPONSE_SNIPPET: Final = 2000
_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class StripeReply:
    """A 2xx answer: the JSON object and the call's record."""

    data: dict[str, Any]
    exchange: Exchange


@dataclass
class _Failure:
    error: ChannelError
    retry: bool
    retry_after: float | None = None


class StripeClient:
    """Speaks Stripe's v1 API over one shared :class:`httpx.AsyncClient`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_delay: float = DEFAULT_RETRY_DELAY,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self._http = http
        self._max_retries = max_retries
        self._retry_delay = retry_delay

    async def get(
        self,
        account: ChannelAccount,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        operation: str,
    ) -> StripeReply:
        """A read: nothing changes at Stripe, so any failure is "not processed"."""
        return await self._call(account, "GET", path, params or {}, operation, None)

    async def post(
        self,
        account: ChannelAccount,
        path: str,
        params: Mapping[str, Any],
        *,
        operation: str,
        idempotency_key: str,
    ) -> StripeReply:
        """A write, always under ``idempotency_key`` (also for every retry)."""
        if not idempotency_key:
            raise ValueError("every Stripe POST needs an idempotency key")
        return await self._call(account, "POST", path, params, operation, idempotency_key)

    # ------------------------------------------------------------------ the call

    async def _call(
        self,
        account: ChannelAccount,
        method: str,
        path: str,
        params: Mapping[str, Any],
        operation: str,
        key: str | None,
    ) -> StripeReply:
        pairs = encode_form(params)
        record: dict[str, Any] = {"method": method, "path": path, "params": mask_wire(dict(pairs))}
        if key is not None:
            record["idempotency_key"] = key
        exchange = Exchange(operation=operation, request=record)
        headers = {
            "Authorization": f"Bearer {account.secret('secret_key')}",
            "Stripe-Version": API_VERSION,
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }
        if key is not None:
            headers["Idempotency-Key"] = key
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        url = account.gateway_url.rstrip("/") + path
        write = method != "GET"
        maybe_processed = False
        started = time.monotonic()
        deadline = started + account.timeout_seconds
        attempt = 0
        try:
            while True:
                attempt += 1
                record["attempts"] = attempt
                failure: _Failure
                budget = max(deadline - time.monotonic(), MIN_ATTEMPT_SECONDS)
                try:
                    response = await self._http.request(
                        method,
                        url,
                        params=tuple(pairs) if not write else None,
                        content=urlencode(pairs).encode() if write else None,
                        headers=headers,
                        timeout=httpx.Timeout(budget),
                    )
                except _NOT_SENT as exc:
                    failure = _Failure(
                        ChannelUnavailable(f"stripe {operation}: cannot connect ({exc!r})"), True
                    )
                except httpx.UnsupportedProtocol as exc:
                    failure = _Failure(ChannelUnavailable(f"stripe {operation}: bad API base ({exc})"), False)
                except httpx.TransportError as exc:
                    maybe_processed = True
                    failure = _Failure(
                        ChannelTimeout(f"stripe {operation}: no complete answer ({exc!r})"), True
                    )
                else:
                    answer = self._classify(operation, response, exchange, write)
                    if isinstance(answer, StripeReply):
                        return answer
                    failure = answer
                    maybe_processed |= response.status_code >= 500 or response.status_code == 409
                delay = self._backoff(attempt, failure.retry_after)
                out_of_time = time.monotonic() + delay + MIN_ATTEMPT_SECONDS > deadline
                if not failure.retry or attempt > self._max_retries or out_of_time:
                    raise self._final(failure.error, exchange, write and maybe_processed)
                await asyncio.sleep(delay)
        finally:
            exchange.duration_ms = int((time.monotonic() - started) * 1000)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        delay = min(self._retry_delay * 2.0 ** (attempt - 1), MAX_RETRY_DELAY)
        delay *= random.uniform(0.5, 1.0)  # jitter: clients retrying together spread out
        if retry_after is not None and 0 <= retry_after <= MAX_RETRY_DELAY:
            delay = max(delay, retry_after)
        return delay

    @staticmethod
    def _final(error: ChannelError, exchange: Exchange, maybe_processed: bool) -> ChannelError:
        if maybe_processed and isinstance(error, ChannelUnavailable):
            # An earlier attempt of this write may have gone through: the outcome is unknown.
            error = ChannelTimeout(
                error.message + " (an earlier attempt may have been processed)",
                code=error.code,
                sub_code=error.sub_code,
            )
        error.exchange = exchange
        exchange.error = error.message
        return error

    # ------------------------------------------------------------------ answers

    def _classify(
        self, operation: str, response: httpx.Response, exchange: Exchange, write: bool
    ) -> StripeReply | _Failure:
        status = response.status_code
        exchange.http_status = status
        if isinstance(exchange.request, dict):
            exchange.request["request_id"] = response.headers.get("request-id", "")
            if response.headers.get("idempotent-replayed") == "true":
                exchange.request["replayed"] = True
        try:
            data: Any = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            data = None
        if isinstance(data, dict):
            exchange.response = mask_wire(data)
        else:
            exchange.response = response.content[:_RESPONSE_SNIPPET].decode("utf-8", "replace")
        if 200 <= status < 300:
            if isinstance(data, dict):
                return StripeReply(data=data, exchange=exchange)
            return _Failure(
                ChannelProtocolError(f"stripe {operation}: HTTP {status} without a JSON object"), False
            )
        error = data.get("error") if isinstance(data, dict) else None
        if not isinstance(error, dict):
            retry = status in (409, 429) or status >= 500
            kind: type[ChannelError] = ChannelProtocolError
            if retry:
                kind = ChannelTimeout if write else ChannelUnavailable
            message = f"stripe {operation}: HTTP {status} without a readable error"
            return _Failure(kind(message), retry, _retry_after(response))
        return self._error(operation, status, error, response, write)

    @staticmethod
    def _error(
        operation: str, status: int, error: dict[str, Any], response: httpx.Response, write: bool
    ) -> _Failure:
        kind_word = str(error.get("type") or "")
        code = str(error.get("code") or "")
        decline_code = str(error.get("decline_code") or "")
        text = str(error.get("message") or "")
        param = error.get("param")
        detail = "/".join(p for p in (kind_word, code, decline_code) if p)
        message = f"stripe {operation}: HTTP {status} {detail}: {text}"
        if param:
            message += f" (param {param})"
        should_retry = response.headers.get("stripe-should-retry")
        retry = status == 409 or status >= 500 or (status == 429 and code == "lock_timeout")
        if should_retry in ("true", "false"):
            retry = should_retry == "true"
        kind: type[ChannelError]
        if status == 402 or kind_word == "card_error":
            kind, code = ChannelBusinessError, code or "card_error"
        elif status in (401, 403):
            kind = ChannelBusinessError
            code = code or ("authentication_error" if status == 401 else "permission_error")
        elif kind_word == "idempotency_error":
            kind, code = ChannelBusinessError, "idempotency_error"
        elif status in (409, 429) or status >= 500 or kind_word == "api_error":
            kind = ChannelTimeout if write else ChannelUnavailable
        elif status in (400, 404):
            kind, code = ChannelBusinessError, code or kind_word
        else:
            kind = ChannelProtocolError
        failure = kind(message, code=code, sub_code=decline_code)
        return _Failure(failure, retry, _retry_after(response))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return float(value) if value else None
    except ValueError:
        return None
