"""The WeChat Pay API v3 client: request signing, HTTP, answer verification, error mapping.

It knows the wire protocol only (no paygate statuses): :meth:`WechatPayClient.call`
returns the verified JSON of a 2xx answer (None for 204) and raises a
:mod:`~paygate.channels.contract` exception for everything else. The request is built
first and its exact request-target and body bytes are what get signed and sent.

Answers are verified with the platform key their ``Wechatpay-Serial`` names: the
account's platform public key when the serial is its ``platform_public_key_id``
(public-key mode), otherwise a platform certificate, fetched from ``/v3/certificates``
on an unknown serial (certificate mode, :mod:`.certificates`). Every call records an
:class:`~paygate.channels.contract.Exchange`: method, path and JSON body masked, the
verified answer masked; never a key, an Authorization header or a signature.

Error mapping (``read``: the call changes nothing at WeChat)::

    connect error / connect or pool timeout        ChannelUnavailable (surely not sent)
    read / write timeout, connection dropped       ChannelTimeout     (outcome unknown)
    2xx with missing / bad signature headers,
        an unknown serial, or a body not JSON      ChannelProtocolError
    5xx, 429, SYSTEM_ERROR, FREQUENCY_LIMITED,
        BANKERROR                                  read: ChannelUnavailable, write: ChannelTimeout
    other 4xx with WeChat's {"code","message"}     ChannelBusinessError(code=…)
    anything else (3xx, a 4xx without the shape)   ChannelProtocolError
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

import httpx
import structlog
from cryptography.hazmat.primitives.asymmetric import rsa

from paygate.channels.contract import (
    ChannelAccount,
    ChannelBusinessError,
    ChannelError,
    ChannelProtocolError,
    ChannelTimeout,
    ChannelUnavailable,
    Exchange,
)
from paygate.channels.wechatpay.certificates import (
    DEFAULT_REFRESH_INTERVAL,
    CertificateStore,
    parse_certificates,
)
from paygate.channels.wechatpay.protocol import (
    SignatureHeaders,
    authorization_header,
    masked,
    new_nonce,
    request_message,
    response_message,
    signature_headers,
    usable_apiv3_key,
)
from paygate.kit.crypto import CryptoError, load_private_key, load_public_key, rsa_sign, rsa_verify

__all__ = ["RETRYABLE_CODES", "WechatPayClient", "WechatReply", "require_param"]

#: Error codes WeChat documents as "busy, try again" whatever the HTTP status.
RETRYABLE_CODES: Final = frozenset({"SYSTEM_ERROR", "SYSTEMERROR", "FREQUENCY_LIMITED", "BANKERROR"})
CERTIFICATES_PATH: Final = "/v3/certificates"
_USER_AGENT: Final = "paygate-wechatpay/1"
_MAX_RECORDED: Final = 2000

log = structlog.get_logger("paygate.channels.wechatpay")


@dataclass(frozen=True)
class WechatReply:
    """A verified 2xx answer; ``data`` is None for an empty one (204)."""

    status: int
    data: dict[str, Any] | None
    exchange: Exchange


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _fail(kind: type[ChannelError], message: str, exchange: Exchange, code: str = "") -> ChannelError:
    exchange.error = message
    return kind(message, code=code, exchange=exchange)


def require_param(account: ChannelAccount, name: str) -> str:
    """A non-secret account setting that must be present (a configuration error if not)."""
    value = account.params.get(name, "")
    if not value:
        raise ChannelError(f"channel account {account.id} lacks param {name!r}")
    return value


class WechatPayClient:
    """Speaks WeChat Pay API v3 over one shared :class:`httpx.AsyncClient`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], datetime] = _utc_now,
        certificate_refresh_interval: float = DEFAULT_REFRESH_INTERVAL,
    ) -> None:
        self._http = http
        self._clock = clock
        self.certificates = CertificateStore(refresh_interval=certificate_refresh_interval)
        self._tasks: set[asyncio.Task[None]] = set()

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # ------------------------------------------------------------------ keys

    @staticmethod
    def _merchant_key(account: ChannelAccount) -> rsa.RSAPrivateKey:
        try:
            return load_private_key(account.secret("merchant_private_key"))
        except CryptoError:
            raise ChannelError(
                f"channel account {account.id}: merchant_private_key is not a usable RSA key"
            ) from None

    def sign(self, account: ChannelAccount, message: bytes) -> str:
        """RSA-SHA256 with the merchant key (requests, JSAPI and APP client parameters)."""
        return rsa_sign(self._merchant_key(account), message)

    def apiv3_key(self, account: ChannelAccount) -> str:
        text = account.secret("apiv3_key")
        try:
            usable_apiv3_key(text)
        except CryptoError:
            raise ChannelError(
                f"channel account {account.id}: apiv3_key is not 32 ASCII characters"
            ) from None
        return text

    def check_account(self, account: ChannelAccount) -> None:
        """Refuse an account whose keys cannot work, before anything is sent (a
        configuration error: ChannelError, not retryable)."""
        require_param(account, "merchant_serial_no")
        self._merchant_key(account)
        self.apiv3_key(account)
        if account.params.get("platform_public_key_id"):
            self.public_key_for(account, account.params["platform_public_key_id"])

    def public_key_for(self, account: ChannelAccount, serial: str) -> rsa.RSAPublicKey | None:
        """The platform key ``serial`` names, from what is configured or cached (no I/O)."""
        if serial and serial == account.params.get("platform_public_key_id"):
            try:
                return load_public_key(account.secret("platform_public_key"))
            except CryptoError:
                raise ChannelError(
                    f"channel account {account.id}: platform_public_key is not a usable RSA key"
                ) from None
        return self.certificates.lookup(account, serial, self._clock())

    async def _platform_key(self, account: ChannelAccount, serial: str) -> rsa.RSAPublicKey | None:
        key = self.public_key_for(account, serial)
        if key is not None:
            return key
        async with self.certificates.lock(account):
            key = self.public_key_for(account, serial)  # another task may just have fetched
            if key is None and self.certificates.may_refresh(account):
                await self.refresh_certificates(account)
                key = self.public_key_for(account, serial)
        return key

    def schedule_refresh(self, account: ChannelAccount) -> None:
        """Fetch the certificates in the background (a notification named an unknown
        serial: WeChat will retry it, by then the certificate is known)."""
        if not self.certificates.may_refresh(account):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return

        async def refresh() -> None:
            async with self.certificates.lock(account):
                if not self.certificates.may_refresh(account):
                    return
                try:
                    await self.refresh_certificates(account)
                except ChannelError as exc:  # the next unknown serial tries again
                    log.warning(
                        "wechatpay.certificates_refresh_failed", account_id=account.id, error=exc.message
                    )
                except Exception:
                    log.exception("wechatpay.certificates_refresh_crashed", account_id=account.id)

        task = loop.create_task(refresh())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def refresh_certificates(self, account: ChannelAccount) -> list[str]:
        """``GET /v3/certificates``: decrypt, verify the answer with what it lists, cache.
        Returns the serials now trusted for the account."""
        self.certificates.attempted(account)
        exchange = Exchange(operation="certificates", request={"method": "GET", "url": CERTIFICATES_PATH})
        response = await self._send(account, "GET", CERTIFICATES_PATH, b"", exchange, read=True)
        if not 200 <= response.status_code < 300:
            raise self._error(response, exchange, read=True, what="certificates")
        data = self._json(response.content, exchange, "certificates")
        try:
            fetched = parse_certificates(data, self.apiv3_key(account))
        except ValueError as exc:
            raise _fail(ChannelProtocolError, f"wechatpay certificates: {exc}", exchange) from None
        exchange.response = {"serial_nos": [c.serial_no for c in fetched]}
        now = self._clock()
        own = {c.serial_no: c.public_key for c in fetched if c.valid_at(now)}

        headers = self._signature(response, exchange, "certificates")
        key = own.get(headers.serial.upper()) or self.public_key_for(account, headers.serial)
        self._check(response, headers, key, exchange, "certificates")
        self.certificates.replace(account, fetched)
        return self.certificates.serials(account)

    # ------------------------------------------------------------------ calls

    async def call(
        self,
        account: ChannelAccount,
        method: str,
        path: str,
        *,
        operation: str,
        read: bool,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> WechatReply:
        """Send one signed call and return its verified answer, or raise (module doc).
        ``path`` starts with ``/v3/`` and has its variable segments percent-encoded."""
        target = path + ("?" + urlencode(query) if query else "")
        raw = b"" if body is None else json.dumps(body, separators=(",", ":")).encode("ascii")
        record: dict[str, Any] = {"method": method, "url": target}
        if body is not None:
            record["body"] = masked(dict(body))
        exchange = Exchange(operation=operation, request=record)
        response = await self._send(account, method, target, raw, exchange, read=read)
        if not 200 <= response.status_code < 300:
            raise self._error(response, exchange, read=read, what=operation)
        await self._verify_async(account, response, exchange, operation)
        data = self._json(response.content, exchange, operation) if response.content else None
        exchange.response = masked(data)
        return WechatReply(status=response.status_code, data=data, exchange=exchange)

    async def download(self, account: ChannelAccount, url: str, *, operation: str) -> bytes:
        """A signed GET of a file WeChat handed out (bill ``download_url``): the answer is
        not signed. The URL must lie under the account's own API base, so the signed
        request never goes anywhere else."""
        base = account.gateway_url.rstrip("/")
        exchange = Exchange(operation=operation, request={"method": "GET", "url": url.split("?", 1)[0]})
        if not url.startswith(base + "/v3/"):
            raise _fail(ChannelProtocolError, f"wechatpay {operation}: foreign download URL", exchange)
        response = await self._send(account, "GET", url[len(base) :], b"", exchange, read=True)
        if response.status_code != 200:
            raise self._error(response, exchange, read=True, what=operation)
        exchange.response = {"bytes": len(response.content)}
        return response.content

    # ------------------------------------------------------------------ plumbing

    async def _send(
        self,
        account: ChannelAccount,
        method: str,
        target: str,
        body: bytes,
        exchange: Exchange,
        *,
        read: bool,
    ) -> httpx.Response:
        self.check_account(account)
        headers = {"Accept": "application/json", "User-Agent": _USER_AGENT}
        if body:
            headers["Content-Type"] = "application/json"
        public_key_id = account.params.get("platform_public_key_id")
        if public_key_id:
            headers["Wechatpay-Serial"] = public_key_id
        serial_no = account.params["merchant_serial_no"]
        try:
            request = self._http.build_request(
                method,
                account.gateway_url.rstrip("/") + target,
                content=body or None,
                headers=headers,
                timeout=httpx.Timeout(account.timeout_seconds),
            )
        except httpx.InvalidURL as exc:
            raise _fail(ChannelError, f"wechatpay: bad gateway_url ({exc})", exchange) from None
        # Sign exactly the request-target and bytes that go on the wire.
        signed_target = request.url.raw_path.decode("ascii")
        timestamp, nonce = str(int(self._clock().timestamp())), new_nonce()
        signature = self.sign(account, request_message(method, signed_target, timestamp, nonce, body))
        request.headers["Authorization"] = authorization_header(
            mchid=account.merchant_id,
            nonce=nonce,
            signature=signature,
            timestamp=timestamp,
            serial_no=serial_no,
        )
        started = time.monotonic()
        try:
            response = await self._http.send(request)
        except (
            httpx.ConnectError,
            httpx.ConnectTimeout,
            httpx.PoolTimeout,
            httpx.UnsupportedProtocol,
        ) as exc:
            raise _fail(ChannelUnavailable, f"wechatpay: cannot reach the API ({exc!r})", exchange) from None
        except httpx.TransportError as exc:
            raise _fail(ChannelTimeout, f"wechatpay: no complete answer ({exc!r})", exchange) from None
        finally:
            exchange.duration_ms = int((time.monotonic() - started) * 1000)
        exchange.http_status = response.status_code
        return response

    def _error(self, response: httpx.Response, exchange: Exchange, *, read: bool, what: str) -> ChannelError:
        status = response.status_code
        data: Any = None
        with contextlib.suppress(ValueError):
            data = json.loads(response.content.decode("utf-8"))
        body = data if isinstance(data, dict) else None
        code = str(body.get("code", "")) if body else ""
        exchange.response = (
            masked(body) if body else response.content[:_MAX_RECORDED].decode("utf-8", "replace")
        )
        request_id = response.headers.get("Request-ID", "")
        text = " ".join(p for p in (str(status), code, str(body.get("message", "")) if body else "") if p)
        message = f"wechatpay {what}: HTTP {text}" + (f" (Request-ID {request_id})" if request_id else "")
        if status >= 500 or status == 429 or code in RETRYABLE_CODES:
            return _fail(ChannelUnavailable if read else ChannelTimeout, message, exchange, code)
        if 400 <= status < 500 and code:
            return _fail(ChannelBusinessError, message, exchange, code)
        return _fail(ChannelProtocolError, message, exchange, code)

    @staticmethod
    def _json(content: bytes, exchange: Exchange, what: str) -> dict[str, Any]:
        try:
            data = json.loads(content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            exchange.response = content[:_MAX_RECORDED].decode("utf-8", "replace")
            raise _fail(ChannelProtocolError, f"wechatpay {what}: the answer is not JSON", exchange) from None
        if not isinstance(data, dict):
            raise _fail(ChannelProtocolError, f"wechatpay {what}: the answer is not an object", exchange)
        return data

    @staticmethod
    def _signature(response: httpx.Response, exchange: Exchange, what: str) -> SignatureHeaders:
        try:
            return signature_headers(response.headers, require_type=True)
        except ValueError as exc:
            message = f"wechatpay {what}: unsigned answer ({exc})"
            raise _fail(ChannelProtocolError, message, exchange) from None

    async def _verify_async(
        self, account: ChannelAccount, response: httpx.Response, exchange: Exchange, what: str
    ) -> None:
        headers = self._signature(response, exchange, what)
        try:
            key = await self._platform_key(account, headers.serial)
        except ChannelError as exc:
            # The answer arrived but cannot be checked: its outcome is unknown.
            message = f"wechatpay {what}: cannot get the platform key ({exc.message})"
            raise _fail(ChannelProtocolError, message, exchange) from None
        self._check(response, headers, key, exchange, what)

    @staticmethod
    def _check(
        response: httpx.Response,
        headers: SignatureHeaders,
        key: rsa.RSAPublicKey | None,
        exchange: Exchange,
        what: str,
    ) -> None:
        if key is None:
            message = f"wechatpay {what}: no platform key for serial {headers.serial!r}"
            raise _fail(ChannelProtocolError, message, exchange)
        message_bytes = response_message(headers.timestamp, headers.nonce, response.content)
        if not rsa_verify(key, message_bytes, headers.signature):
            raise _fail(ChannelProtocolError, f"wechatpay {what}: badly signed answer", exchange)
