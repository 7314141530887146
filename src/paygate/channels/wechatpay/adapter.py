"""The WeChat Pay API v3 channel adapter (R-CH-1, R-CH-2, R-CH-3, R-NTF-1, R-SEC-3).

One :class:`WechatPayAdapter` serves any number of WeChat Pay direct-merchant accounts; each
call names the :class:`~paygate.channels.contract.ChannelAccount` it acts for. The account
layout::

    merchant_id                        the mchid (e.g. "1900000109")
    gateway_url                        the API base: https://api.mch.weixin.qq.com (or the
                                       sandbox's http://HOST:PORT/wechatpay); no trailing /v3
    secrets["merchant_private_key"]    the merchant API key (RSA, PKCS#8/PKCS#1 PEM or bare
                                       base64) that signs requests and JSAPI/APP parameters
    secrets["apiv3_key"]               the 32-character APIv3 key (decrypts notifications
                                       and platform certificates)
    secrets["platform_public_key"]     optional: WeChat Pay's platform public key (SPKI PEM)
    params["appid"]                    the AppID the orders are made for (official account,
                                       mini-program or mobile app); notifications must match
    params["merchant_serial_no"]       the serial number of the merchant API certificate
    params["platform_public_key_id"]   optional: "PUB_KEY_ID_…" — public-key mode. Without it,
                                       certificate mode: platform certificates are fetched
                                       from /v3/certificates and cached per account
    notify_url / return_url            paygate's callback URL (required: WeChat demands one)
                                       / the default page the H5 cashier returns to
    timeout_seconds                    per-call HTTP timeout

Pay forms: ``native`` (→ QR_CODE ``code_url``), ``jsapi`` (``extra["openid"]`` → JSAPI
``appId, timeStamp, nonceStr, package, signType, paySign``), ``h5`` (needs ``client_ip``;
``extra["h5_type"]`` Wap|iOS|Android → REDIRECT GET ``h5_url`` with ``redirect_url``),
``app`` (→ APP ``appid, partnerid, prepayid, package, noncestr, timestamp, sign``). Errors:
see :mod:`.client`; an answer contradicting the request (another order, amount, currency
or merchant) is a ChannelProtocolError. Not supported: micropay (barcode), cancel/reverse,
combined orders, partner (service-provider) mode, profit sharing, fund-flow bills.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any, Final

import httpx

from paygate.channels.contract import (
    AccountSpec,
    Bill,
    ChannelAccount,
    ChannelBusinessError,
    ChannelError,
    CloseResult,
    CreatePayment,
    CreateResult,
    Notification,
    NotifyReply,
    Operation,
    PaymentStatus,
    PaymentStatusResult,
    RawBill,
    RefundRequest,
    RefundResult,
    RefundStatus,
    ReturnInfo,
    answer_mapping,
)
from paygate.channels.wechatpay.bill import BillFormatError
from paygate.channels.wechatpay.certificates import DEFAULT_REFRESH_INTERVAL
from paygate.channels.wechatpay.client import WechatPayClient, require_param
from paygate.channels.wechatpay.notifications import parse_notification
from paygate.channels.wechatpay.protocol import new_nonce
from paygate.channels.wechatpay.transformers import (
    PAY_FORMS,
    ResponseMismatch,
    app_action,
    build_pay,
    h5_action,
    jsapi_action,
    native_action,
    prepay_id_of,
    query_result,
    refund_body,
    refund_query_result,
    refund_result,
    segment,
    validate_create,
)

__all__ = ["WechatPayAdapter"]

_NOT_FOUND: Final = frozenset({"ORDER_NOT_EXIST", "ORDERNOTEXIST", "RESOURCE_NOT_EXISTS"})
_REFUNDS: Final = "/v3/refund/domestic/refunds"
_MAX_BILL_BYTES: Final = 16 * 1024**3  # ≈ 70 million lines; more is a gzip bomb
_FAIL_BODY: Final = json.dumps({"code": "FAIL", "message": "失败"}, ensure_ascii=False).encode()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _Sha1Check:
    """The bill file as read must be at most :data:`_MAX_BILL_BYTES` (a gzip bomb is refused
    as it inflates) and, once read to its end, have the SHA1 the bill answer stated."""

    def __init__(self, expected: str) -> None:
        self._expected = expected.lower()
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._size = 0

    def seen(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > _MAX_BILL_BYTES:
            raise BillFormatError(f"the bill file is larger than {_MAX_BILL_BYTES} bytes")
        self._sha1.update(data)

    def done(self) -> None:
        if self._sha1.hexdigest() != self._expected:
            raise BillFormatError("the bill file does not match its hash_value")


class WechatPayAdapter:
    """:class:`~paygate.channels.contract.ChannelAdapter` for WeChat Pay API v3."""

    channel: str = "wechatpay"
    methods: frozenset[str] = PAY_FORMS
    #: every pay form calls the channel's API (none is signed locally)
    offline_methods: frozenset[str] = frozenset()
    confirms_notifications: bool = False
    account_spec: AccountSpec = AccountSpec(
        secrets=frozenset({"merchant_private_key", "apiv3_key"}),
        params=frozenset({"appid", "merchant_serial_no"}),
        optional_secrets=frozenset({"platform_public_key"}),
        optional_params=frozenset({"platform_public_key_id"}),
    )

    def __init__(
        self,
        http: httpx.AsyncClient | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
        certificate_refresh_interval: float = DEFAULT_REFRESH_INTERVAL,
    ) -> None:
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient()
        self._clock = clock
        self._client = WechatPayClient(
            self._http, clock=clock, certificate_refresh_interval=certificate_refresh_interval
        )

    @property
    def client(self) -> WechatPayClient:
        return self._client

    async def aclose(self) -> None:
        await self._client.aclose()
        if self._owns_http:
            await self._http.aclose()

    async def refresh_certificates(self, account: ChannelAccount) -> list[str]:
        """Fetch the platform certificates now (certificate mode warm-up); their serials."""
        return await self._client.refresh_certificates(account)

    # ------------------------------------------------------------------ pay

    def validate(self, request: CreatePayment) -> None:
        """CNY only, 1 fen – 2^31-1 fen, out_trade_no 6–32 of ``[0-9A-Za-z_-|*]``, subject
        1–127 characters, ≥ 1 minute of life, a valid ``client_ip`` if given; jsapi needs
        ``extra["openid"]``, h5 needs ``client_ip``. Raises ValueError (UnsupportedOperation
        for a foreign pay form)."""
        validate_create(request, self._clock())

    async def create_payment(self, account: ChannelAccount, request: CreatePayment) -> CreateResult:
        appid = require_param(account, "appid")
        if not account.notify_url:
            raise ChannelError(f"channel account {account.id} has no notify_url (WeChat requires one)")
        call = build_pay(
            request, appid=appid, mchid=account.merchant_id, notify_url=account.notify_url, now=self._clock()
        )
        reply = await self._client.call(
            account, "POST", call.path, body=call.body, operation=Operation.CREATE.value, read=False
        )
        with answer_mapping("wechatpay", reply.exchange):
            data = reply.data
            if data is None:
                raise ResponseMismatch("the pay answer is empty")
            if request.method == "native":
                action = native_action(data)
            elif request.method == "h5":
                action = h5_action(data, request.return_url or account.return_url)
            else:
                prepay_id = prepay_id_of(data)
                timestamp, nonce = str(int(self._clock().timestamp())), new_nonce()

                def sign(message: bytes) -> str:
                    return self._client.sign(account, message)

                if request.method == "jsapi":
                    action = jsapi_action(appid, prepay_id, timestamp, nonce, sign)
                else:
                    action = app_action(appid, account.merchant_id, prepay_id, timestamp, nonce, sign)
        return CreateResult(action=action, exchange=reply.exchange)

    async def query_payment(
        self, account: ChannelAccount, attempt_no: str, channel_trade_no: str | None = None
    ) -> PaymentStatusResult:
        """By transaction id when known, else by out_trade_no. ``ORDER_NOT_EXIST`` is
        NOT_FOUND."""
        appid = require_param(account, "appid")
        if channel_trade_no:
            path = f"/v3/pay/transactions/id/{segment(channel_trade_no)}"
        else:
            path = f"/v3/pay/transactions/out-trade-no/{segment(attempt_no)}"
        try:
            reply = await self._client.call(
                account,
                "GET",
                path,
                query={"mchid": account.merchant_id},
                operation=Operation.QUERY.value,
                read=True,
            )
        except ChannelBusinessError as exc:
            if exc.code not in _NOT_FOUND:
                raise
            return PaymentStatusResult(
                attempt_no=attempt_no,
                status=PaymentStatus.NOT_FOUND,
                channel_status=exc.code,
                exchange=exc.exchange,
            )
        with answer_mapping("wechatpay", reply.exchange):
            result = query_result(
                reply.data or {},
                attempt_no,
                mchid=account.merchant_id,
                appid=appid,
                transaction_id=channel_trade_no or None,
            )
        return replace(result, exchange=reply.exchange)

    async def close_payment(
        self, account: ChannelAccount, attempt_no: str, channel_trade_no: str | None = None
    ) -> CloseResult:
        """204 → closed. ``ORDER_NOT_EXIST`` → ``closed=False``; ``ORDERPAID`` raises
        ChannelBusinessError (query it: it was paid)."""
        try:
            reply = await self._client.call(
                account,
                "POST",
                f"/v3/pay/transactions/out-trade-no/{segment(attempt_no)}/close",
                body={"mchid": account.merchant_id},
                operation=Operation.CLOSE.value,
                read=False,
            )
        except ChannelBusinessError as exc:
            if exc.code not in _NOT_FOUND:
                raise
            return CloseResult(closed=False, exchange=exc.exchange)
        return CloseResult(closed=True, exchange=reply.exchange)

    # ------------------------------------------------------------------ refunds

    async def refund(self, account: ChannelAccount, request: RefundRequest) -> RefundResult:
        """``out_refund_no`` = ``refund_no`` (a repeat is idempotent at WeChat). Usually
        answers PROCESSING; the REFUND.* notification or a refund query settles it."""
        body = refund_body(request, account.notify_url)
        reply = await self._client.call(
            account, "POST", _REFUNDS, body=body, operation=Operation.REFUND.value, read=False
        )
        with answer_mapping("wechatpay", reply.exchange):
            result = refund_result(reply.data or {}, request)
        return replace(result, exchange=reply.exchange)

    async def query_refund(
        self,
        account: ChannelAccount,
        refund_no: str,
        attempt_no: str,
        channel_trade_no: str | None = None,
        channel_refund_no: str | None = None,
    ) -> RefundResult:
        """By paygate's refund number and the attempt (the channel's own numbers are not
        needed here)."""
        try:
            reply = await self._client.call(
                account,
                "GET",
                f"{_REFUNDS}/{segment(refund_no)}",
                operation=Operation.QUERY_REFUND.value,
                read=True,
            )
        except ChannelBusinessError as exc:
            if exc.code not in _NOT_FOUND:
                raise
            return RefundResult(
                refund_no=refund_no,
                status=RefundStatus.NOT_FOUND,
                channel_status=exc.code,
                exchange=exc.exchange,
            )
        with answer_mapping("wechatpay", reply.exchange):
            result = refund_query_result(reply.data or {}, refund_no, attempt_no)
        return replace(result, exchange=reply.exchange)

    # ------------------------------------------------------------------ inbound

    def parse_notification(
        self, account: ChannelAccount, headers: Mapping[str, str], body: bytes
    ) -> Notification:
        """Verify the ``Wechatpay-*`` headers over the raw body, refuse a timestamp more than
        5 minutes away, decrypt the resource, check mchid (and appid for payments), map
        (:mod:`.notifications`). In certificate mode an unknown serial is refused and a
        certificate refresh starts in the background (WeChat re-sends 15 s later)."""
        return parse_notification(self._client, account, headers, body, now=self._clock())

    def notify_reply(self, accepted: bool) -> NotifyReply:
        """204 with no body (received); otherwise 400 ``{"code":"FAIL",…}``: WeChat sends
        anything but 200/204 again on its schedule (15 s … 6 h, ~24 h in all)."""
        if accepted:
            return NotifyReply(status_code=204, body=b"")
        return NotifyReply(status_code=400, body=_FAIL_BODY, media_type="application/json")

    def parse_return(self, account: ChannelAccount, query: Mapping[str, str]) -> ReturnInfo:
        """WeChat's H5 cashier returns without any signed data: never verified; the trade
        is named by ``out_trade_no`` when paygate's return URL carries it."""
        return ReturnInfo(attempt_no=str(query.get("out_trade_no", "")), verified=False)

    # ------------------------------------------------------------------ bills

    async def download_bill(self, account: ChannelAccount, bill_date: date) -> Bill:
        """The day's ``ALL`` trade bill (GZIP), checked against ``hash_value`` (SHA1 of the
        uncompressed file). No bill → ChannelBusinessError ``NO_STATEMENT_EXIST``."""
        reply = await self._client.call(
            account,
            "GET",
            "/v3/bill/tradebill",
            query={"bill_date": bill_date.isoformat(), "bill_type": "ALL", "tar_type": "GZIP"},
            operation=Operation.BILL.value,
            read=True,
        )
        data: dict[str, Any] = reply.data or {}
        url, hash_type, hash_value = (data.get(k) for k in ("download_url", "hash_type", "hash_value"))
        with answer_mapping("wechatpay", reply.exchange):
            if not isinstance(url, str) or not url or not isinstance(hash_value, str):
                raise ResponseMismatch("the bill answer lacks download_url or hash_value")
            if hash_type != "SHA1":
                raise ResponseMismatch(f"unsupported hash_type {hash_type!r}")
        content = await self._client.download(account, url, operation=Operation.BILL.value)
        gz = content[:2] == b"\x1f\x8b"
        name = f"tradebill_{bill_date.isoformat()}_ALL.csv"
        raw = RawBill(
            name=f"{name}.gz" if gz else name,
            content=content,
            source=url.split("?", 1)[0],  # the token is a secret
            media_type="application/gzip" if gz else "text/csv",
        )
        check = _Sha1Check(hash_value)
        from paygate.channels.wechatpay.bill_frames import TradeBillFrames  # polars: ≈ 0.2 s to import

        reader = TradeBillFrames(
            gzip.GzipFile(fileobj=io.BytesIO(content), mode="rb") if gz else io.BytesIO(content),
            on_bytes=check.seen,
            on_end=check.done,
        )
        return Bill(bill_date=bill_date, lines=[], raw_name=name, raw=raw, reader=reader)
