"""The Alipay OpenAPI client: common parameters, RSA2/RSA signing, HTTP and error mapping.

It knows the wire protocol only (no paygate statuses): :meth:`AlipayClient.execute` returns
the verified ``<method>_response`` object of a successful call and raises a
:mod:`~paygate.channels.contract` exception for everything else. Every call records an
:class:`~paygate.channels.contract.Exchange` with the request's parameters minus ``sign``
(``auth_code`` and tokens masked) and the verified response object, never a key or a
signature.

Requests go as the official SDKs send them: a POST whose query string holds the common
parameters and ``sign`` and whose form body holds ``biz_content`` (ASCII-only JSON).

Error mapping::

    connect error / connect or pool timeout          ChannelUnavailable (surely not sent)
    read / write timeout, connection dropped         ChannelTimeout     (outcome unknown)
    HTTP 5xx                                         read: ChannelUnavailable, write: ChannelTimeout
    other non-200, not UTF-8 JSON, no response key   ChannelProtocolError
    missing or bad ``sign`` (whatever the code)      ChannelProtocolError
    10000 (and 10003 for trade.pay: buyer paying)    returned
    20000, retryable sub_code, ``retry_flag`` = Y    read: ChannelUnavailable,
                                                     write: ChannelTimeout
    40004 / 40001 / 40002 / 40003 / 40006 / 20001    ChannelBusinessError(code, sub_code)
    any other code                                   UnknownChannelStatus
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlencode

import httpx

from paygate.channels.alipay.protocol import (
    BEIJING,
    SIGN_TYPES,
    TIME_FORMAT,
    canonical_notification,
    canonical_request,
    extract_signed_response,
    mask_params,
    sign_text,
    verify_text,
)
from paygate.channels.contract import (
    ChannelAccount,
    ChannelBusinessError,
    ChannelError,
    ChannelProtocolError,
    ChannelTimeout,
    ChannelUnavailable,
    Exchange,
    UnknownChannelStatus,
)
from paygate.kit.crypto import CryptoError, load_private_key, load_public_key

__all__ = [
    "NOTIFY_METHODS",
    "READ_METHODS",
    "RETRYABLE_SUB_CODES",
    "AlipayClient",
    "AlipayReply",
]

#: Methods that change nothing at Alipay: a failed call is surely "not processed".
READ_METHODS: Final = frozenset(
    {
        "alipay.trade.query",
        "alipay.trade.fastpay.refund.query",
        "alipay.data.dataservice.bill.downloadurl.query",
    }
)

#: Methods whose trade reports to ``notify_url``.
NOTIFY_METHODS: Final = frozenset(
    {
        "alipay.trade.page.pay",
        "alipay.trade.wap.pay",
        "alipay.trade.app.pay",
        "alipay.trade.pay",
        "alipay.trade.precreate",
        "alipay.trade.create",
    }
)

#: Business sub_codes that Alipay documents as "system busy, try again / query".
RETRYABLE_SUB_CODES: Final = frozenset(
    {"ACQ.SYSTEM_ERROR", "aop.ACQ.SYSTEM_ERROR", "isp.unknow-error", "isp.unknown-error"}
)

_SUCCESS: Final = "10000"
_PAYING: Final = "10003"  # trade.pay only: the buyer must confirm in the app
_BUSINESS_CODES: Final = frozenset({"40004", "40001", "40002", "40003", "40006", "20001"})
_UNAVAILABLE_CODE: Final = "20000"


@dataclass(frozen=True)
class AlipayReply:
    """A verified, successful (10000 / 10003) answer."""

    data: dict[str, Any]
    exchange: Exchange

    @property
    def code(self) -> str:
        return str(self.data.get("code", ""))


def sign_type_of(account: ChannelAccount) -> str:
    sign_type = account.params.get("sign_type") or "RSA2"
    if sign_type not in SIGN_TYPES:
        raise ChannelError(f"channel account {account.id}: unsupported sign_type {sign_type!r}")
    return sign_type


def _usable_key(account: ChannelAccount, name: str, load: Callable[[str], object]) -> str:
    """The account's key ``name``, checked to load (a config error, never retryable)."""
    text = account.secret(name)
    try:
        load(text)
    except CryptoError:
        raise ChannelError(f"channel account {account.id}: {name} is not a usable RSA key") from None
    return text


def _now_beijing() -> datetime:
    return datetime.now(BEIJING)


class AlipayClient:
    """Speaks Alipay's OpenAPI over one shared :class:`httpx.AsyncClient`."""

    def __init__(self, http: httpx.AsyncClient, *, clock: Callable[[], datetime] = _now_beijing) -> None:
        self._http = http
        self._clock = clock

    # ------------------------------------------------------------------ parameters

    def signed_params(
        self,
        account: ChannelAccount,
        method: str,
        biz: Mapping[str, Any],
        *,
        return_url: str = "",
    ) -> dict[str, str]:
        """Common parameters + ``biz_content`` + ``sign``. Empty values are never emitted."""
        sign_type = sign_type_of(account)
        params: dict[str, str] = {
            "app_id": account.merchant_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": sign_type,
            "timestamp": self._clock().astimezone(BEIJING).strftime(TIME_FORMAT),
            "version": "1.0",
            # ASCII-only JSON: the request then means the same whatever charset the gateway
            # decodes it with.
            "biz_content": json.dumps(dict(biz), separators=(",", ":"), ensure_ascii=True),
        }
        if method in NOTIFY_METHODS and account.notify_url:
            params["notify_url"] = account.notify_url
        if return_url:
            params["return_url"] = return_url
        private_key = _usable_key(account, "app_private_key", load_private_key)
        params["sign"] = sign_text(private_key, canonical_request(params), sign_type)
        return params

    # ------------------------------------------------------------------ client-side methods

    def build_page_url(
        self,
        account: ChannelAccount,
        method: str,
        biz: Mapping[str, Any],
        *,
        operation: str,
        return_url: str = "",
    ) -> tuple[str, Exchange]:
        """A signed gateway URL for the payer's browser to open with GET."""
        params = self.signed_params(account, method, biz, return_url=return_url)
        sep = "&" if "?" in account.gateway_url else "?"
        return account.gateway_url + sep + urlencode(params), self._local_exchange(operation, params)

    def build_form(
        self,
        account: ChannelAccount,
        method: str,
        biz: Mapping[str, Any],
        *,
        operation: str,
        return_url: str = "",
    ) -> tuple[str, Exchange]:
        """A self-submitting HTML form that POSTs the signed parameters to the gateway."""
        params = self.signed_params(account, method, biz, return_url=return_url)
        inputs = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        action = html.escape(account.gateway_url)
        form = (
            f'<form id="alipaysubmit" name="alipaysubmit" action="{action}"'
            f' method="POST">{inputs}<input type="submit" value="ok" style="display:none"></form>'
            "<script>document.forms['alipaysubmit'].submit();</script>"
        )
        return form, self._local_exchange(operation, params)

    def build_order_string(
        self, account: ChannelAccount, method: str, biz: Mapping[str, Any], *, operation: str
    ) -> tuple[str, Exchange]:
        """The URL-encoded signed parameters the Alipay app SDK takes (``orderStr``)."""
        params = self.signed_params(account, method, biz)
        return urlencode(params), self._local_exchange(operation, params)

    @staticmethod
    def _local_exchange(operation: str, params: Mapping[str, str]) -> Exchange:
        return Exchange(operation=operation, request=mask_params(params), duration_ms=0)

    # ------------------------------------------------------------------ server-side calls

    async def execute(
        self, account: ChannelAccount, method: str, biz: Mapping[str, Any], *, operation: str
    ) -> AlipayReply:
        """POST one signed call, verify the answer, return it or raise (see module doc)."""
        # A key that cannot verify the answer must stop us *before* anything is sent.
        public_key = _usable_key(account, "alipay_public_key", load_public_key)
        params = self.signed_params(account, method, biz)
        exchange = Exchange(operation=operation, request=mask_params(params))
        response = await self._send(account, method, params, exchange)
        exchange.http_status = response.status_code
        body = self._read_body(method, response, exchange)
        try:
            signed = extract_signed_response(body, method)
        except ValueError as exc:
            exchange.response = body[:2000]
            raise self._fail(ChannelProtocolError, f"alipay {method}: {exc}", exchange) from None
        data = signed.data
        exchange.response = data
        code, sub_code = str(data.get("code", "")), str(data.get("sub_code", ""))
        if signed.sign is None or not verify_text(public_key, signed.raw, signed.sign, sign_type_of(account)):
            what = "unsigned" if signed.sign is None else "badly signed"
            raise self._fail(
                ChannelProtocolError,
                f"alipay {method}: {what} answer ({_describe(data)})",
                exchange,
                code=code,
                sub_code=sub_code,
            )
        return self._classify(method, data, exchange)

    def _classify(self, method: str, data: dict[str, Any], exchange: Exchange) -> AlipayReply:
        code, sub_code = str(data.get("code", "")), str(data.get("sub_code", ""))
        if code == _SUCCESS or (code == _PAYING and method == "alipay.trade.pay"):
            return AlipayReply(data=data, exchange=exchange)
        message = f"alipay {method}: {_describe(data)}"
        if code == _UNAVAILABLE_CODE or sub_code in RETRYABLE_SUB_CODES or data.get("retry_flag") == "Y":
            kind: type[ChannelError] = ChannelUnavailable if method in READ_METHODS else ChannelTimeout
            raise self._fail(kind, message, exchange, code=code, sub_code=sub_code)
        if code in _BUSINESS_CODES:
            raise self._fail(ChannelBusinessError, message, exchange, code=code, sub_code=sub_code)
        raise self._fail(UnknownChannelStatus, message, exchange, code=code, sub_code=sub_code)

    async def _send(
        self,
        account: ChannelAccount,
        method: str,
        params: Mapping[str, str],
        exchange: Exchange,
    ) -> httpx.Response:
        # The official SDKs' layout: common parameters in the query string (so the gateway
        # knows the charset before it decodes the body), biz_content in the form body.
        query = {k: v for k, v in params.items() if k != "biz_content"}
        body = {k: v for k, v in params.items() if k == "biz_content"}
        sep = "&" if "?" in account.gateway_url else "?"
        started = time.monotonic()
        try:
            return await self._http.post(
                account.gateway_url + sep + urlencode(query),
                content=urlencode(body).encode("ascii"),
                headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
                timeout=httpx.Timeout(account.timeout_seconds),
            )
        except (
            httpx.ConnectError,
            httpx.ConnectTimeout,
            httpx.PoolTimeout,
            httpx.UnsupportedProtocol,
        ) as exc:
            raise self._fail(
                ChannelUnavailable, f"alipay {method}: cannot reach the gateway ({exc!r})", exchange
            ) from None
        except httpx.TransportError as exc:
            raise self._fail(
                ChannelTimeout, f"alipay {method}: no complete answer ({exc!r})", exchange
            ) from None
        finally:
            exchange.duration_ms = int((time.monotonic() - started) * 1000)

    def _read_body(self, method: str, response: httpx.Response, exchange: Exchange) -> str:
        try:
            body = response.content.decode("utf-8")
        except UnicodeDecodeError:
            exchange.response = response.content[:2000].decode("utf-8", "replace")
            raise self._fail(
                ChannelProtocolError, f"alipay {method}: the answer is not UTF-8", exchange
            ) from None
        if response.status_code != 200:
            exchange.response = body[:2000]
            message = f"alipay {method}: HTTP {response.status_code}"
            if response.status_code >= 500:
                kind: type[ChannelError] = ChannelUnavailable if method in READ_METHODS else ChannelTimeout
                raise self._fail(kind, message, exchange)
            raise self._fail(ChannelProtocolError, message, exchange)
        return body

    @staticmethod
    def _fail(
        kind: type[ChannelError],
        message: str,
        exchange: Exchange,
        *,
        code: str = "",
        sub_code: str = "",
    ) -> ChannelError:
        exchange.error = message
        return kind(message, code=code, sub_code=sub_code, exchange=exchange)

    # ------------------------------------------------------------------ inbound + files

    def verify_callback(self, account: ChannelAccount, params: Mapping[str, str]) -> bool:
        """Verify an async notification's or a sync return's ``sign`` (``sign_type`` must be
        the account's: a downgrade from RSA2 to RSA is refused)."""
        sign_type = sign_type_of(account)
        if params.get("sign_type", sign_type) != sign_type:
            return False
        return verify_text(
            account.secret("alipay_public_key"),
            canonical_notification(params),
            params.get("sign", ""),
            sign_type,
        )

    async def download(self, account: ChannelAccount, url: str, *, operation: str) -> bytes:
        """GET a bill file from the (unsigned, short-lived) URL the gateway handed out."""
        exchange = Exchange(operation=operation, request={"url": url.split("?", 1)[0]})
        if not url.startswith(("https://", "http://")):
            raise self._fail(ChannelProtocolError, f"alipay bill: bad URL {url!r}", exchange)
        started = time.monotonic()
        try:
            response = await self._http.get(url, timeout=httpx.Timeout(account.timeout_seconds))
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise self._fail(ChannelUnavailable, f"alipay bill: {exc!r}", exchange) from None
        except httpx.TransportError as exc:
            raise self._fail(ChannelTimeout, f"alipay bill: {exc!r}", exchange) from None
        finally:
            exchange.duration_ms = int((time.monotonic() - started) * 1000)
        exchange.http_status = response.status_code
        exchange.response = {"bytes": len(response.content)}
        if response.status_code != 200:
            raise self._fail(ChannelUnavailable, f"alipay bill: HTTP {response.status_code}", exchange)
        return response.content


def _describe(data: Mapping[str, Any]) -> str:
    parts = [str(data.get(k, "")) for k in ("code", "msg", "sub_code", "sub_msg")]
    return " ".join(p for p in parts if p)
