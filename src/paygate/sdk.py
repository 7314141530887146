"""The Python client SDK for business systems (R-API-8, R-PAY-10).

::

    from paygate.sdk import PaygateClient

    async with PaygateClient("http://127.0.0.1:8000", app_id="demo", secret="…") as pg:
        trade = await pg.pay(out_order_no="ORDER-1", pay_type="alipay.qr", amount=1999,
                             subject="Coffee")
        trade = await pg.query_trade(trade_no=trade["trade_no"])

It signs every request (HMAC-SHA256 with ``secret``, or RSA-SHA256 with
``private_key``), verifies paygate's response signature, and raises :class:`PaygateAPIError`
for any ``errno != 0``. On a pay timeout it queries the trade by ``out_order_no`` before
giving up (R-PAY-10): the payment may have been created although the answer was lost.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import httpx

from paygate.kit import signing

__all__ = ["PaygateAPIError", "PaygateClient", "SignatureError"]


class PaygateAPIError(Exception):
    def __init__(self, errno: int, error: str, msg: str, data: Any, http_status: int) -> None:
        super().__init__(f"{error} ({errno}): {msg}")
        self.errno = errno
        self.error = error
        self.msg = msg
        self.data = data
        self.http_status = http_status


class SignatureError(Exception):
    """paygate's answer does not carry a valid signature: do not trust it."""


class PaygateClient:
    def __init__(
        self,
        base_url: str,
        app_id: str,
        *,
        secret: str | None = None,
        private_key: str | None = None,
        platform_public_key: str | None = None,
        timeout: float = 15.0,
        query_attempts: int = 3,
        verify_responses: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not secret and not private_key:
            raise ValueError("give secret (HMAC-SHA256) or private_key (RSA-SHA256)")
        if private_key and not platform_public_key and verify_responses:
            raise ValueError(
                "an RSA app needs platform_public_key (GET /platform/public-key) to verify "
                "responses; pass verify_responses=False only if you accept unverified answers"
            )
        self.app_id = app_id
        self._secret = secret
        self._private_key = private_key
        self._platform_key = platform_public_key
        self._query_attempts = query_attempts
        self._verify_responses = verify_responses
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport)

    async def __aenter__(self) -> PaygateClient:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ signing

    def signed_headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        """The headers that sign a request (for endpoints this client has no method for)."""
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16)
        message = signing.request_message(method, path, timestamp, nonce, body)
        if self._secret:
            signature = signing.sign_hmac(self._secret, message)
        else:
            assert self._private_key is not None
            signature = signing.sign_rsa(self._private_key, message)
        return {
            "Content-Type": "application/json",
            signing.HEADER_APP_ID: self.app_id,
            signing.HEADER_TIMESTAMP: timestamp,
            signing.HEADER_NONCE: nonce,
            signing.HEADER_SIGNATURE: signature,
        }

    def _verify(self, response: httpx.Response) -> None:
        if not self._verify_responses:
            return
        ts = response.headers.get(signing.HEADER_TIMESTAMP)
        nonce = response.headers.get(signing.HEADER_NONCE)
        signature = response.headers.get(signing.HEADER_SIGNATURE)
        if not (ts and nonce and signature):
            if response.status_code == 200:
                raise SignatureError("the response is not signed")
            return  # errors before authentication (unknown app, bad signature) are unsigned
        message = signing.response_message(ts, nonce, response.content)
        if self._secret:
            ok = signing.verify_hmac(self._secret, message, signature)
        else:
            assert self._platform_key is not None
            ok = signing.verify_rsa(self._platform_key, message, signature)
        if not ok:
            raise SignatureError("the response signature does not verify")

    async def request(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, separators=(",", ":")).encode()
        response = await self._http.post(path, content=body, headers=self.signed_headers("POST", path, body))
        self._verify(response)
        try:
            envelope = response.json()
        except ValueError:
            raise PaygateAPIError(
                9000, "INTERNAL", "unreadable response", None, response.status_code
            ) from None
        if envelope.get("errno") != 0:
            raise PaygateAPIError(
                envelope.get("errno", 9000),
                envelope.get("error", "INTERNAL"),
                envelope.get("msg", ""),
                envelope.get("data"),
                response.status_code,
            )
        data: dict[str, Any] = envelope["data"]
        return data

    # ------------------------------------------------------------------ API

    async def pay(
        self,
        *,
        out_order_no: str,
        pay_type: str,
        amount: int,
        subject: str,
        currency: str = "CNY",
        **fields: Any,
    ) -> dict[str, Any]:
        """Create (or fetch, for a repeated order) the trade and its pay data. On a timeout
        it asks paygate for the trade by ``out_order_no`` before raising (R-PAY-10)."""
        payload = {
            "out_order_no": out_order_no,
            "pay_type": pay_type,
            "amount": amount,
            "currency": currency,
            "subject": subject,
            **fields,
        }
        return await self._or_query(
            self.request("/gopay", payload),
            lambda: self.query_trade(out_order_no=out_order_no),
            "TRADE_NOT_FOUND",
        )

    async def _or_query(
        self,
        call: Awaitable[dict[str, Any]],
        query: Callable[[], Awaitable[dict[str, Any]]],
        not_found: str,
    ) -> dict[str, Any]:
        """``call``; on a timeout, what ``query`` finds (it was created after all), else the
        original timeout (it never was)."""
        try:
            return await call
        except (httpx.TimeoutException, httpx.NetworkError) as exc:
            last: Exception = exc
            for _ in range(self._query_attempts):
                try:
                    return await query()
                except PaygateAPIError as err:
                    if err.error != not_found:
                        raise
                    break  # never created: the original timeout is the answer
                except (httpx.TimeoutException, httpx.NetworkError) as again:
                    last = again
            if last is exc:
                raise
            raise last from exc

    async def query_trade(
        self, *, trade_no: str | None = None, out_order_no: str | None = None, sync: bool = False
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"sync": sync}
        if trade_no:
            payload["trade_no"] = trade_no
        if out_order_no:
            payload["out_order_no"] = out_order_no
        return await self.request("/query/trade", payload)

    async def close(self, *, trade_no: str | None = None, out_order_no: str | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        if trade_no:
            payload["trade_no"] = trade_no
        if out_order_no:
            payload["out_order_no"] = out_order_no
        return await self.request("/close", payload)

    async def refund(
        self,
        *,
        out_refund_no: str,
        amount: int,
        trade_no: str | None = None,
        out_order_no: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Refund (part of) a paid trade (``reason``, ``currency``, ``notify_url`` optional).
        Idempotent on ``out_refund_no``; on a timeout it asks for the refund by that number
        before raising."""
        payload: dict[str, Any] = {"out_refund_no": out_refund_no, "amount": amount, **fields}
        if trade_no:
            payload["trade_no"] = trade_no
        if out_order_no:
            payload["out_order_no"] = out_order_no
        return await self._or_query(
            self.request("/refund", payload),
            lambda: self.query_refund(out_refund_no=out_refund_no),
            "REFUND_NOT_FOUND",
        )

    async def query_refund(
        self, *, refund_no: str | None = None, out_refund_no: str | None = None, sync: bool = False
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"sync": sync}
        if refund_no:
            payload["refund_no"] = refund_no
        if out_refund_no:
            payload["out_refund_no"] = out_refund_no
        return await self.request("/query/refund", payload)

    async def query_bill(
        self, channel: str, bill_date: str, *, after: str | int | None = None, limit: int = 100
    ) -> dict[str, Any]:
        """``/query/bill``: this app's lines of the channel's bills of ``bill_date`` (a page;
        ``after``: the ``next`` of the previous one)."""
        payload: dict[str, Any] = {"channel": channel, "bill_date": bill_date, "limit": limit}
        if after is not None:
            payload["after"] = after
        return await self.request("/query/bill", payload)

    async def query_settle(self, channel: str, settle_date: str) -> dict[str, Any]:
        """``/query/settle``: the channel's settlements of ``settle_date`` and this app's share."""
        return await self.request("/query/settle", {"channel": channel, "settle_date": settle_date})
