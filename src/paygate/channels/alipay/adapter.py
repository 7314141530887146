"""The Alipay channel adapter (R-CH-1, R-CH-2, R-NTF-1, R-SEC-3).

One :class:`AlipayAdapter` serves any number of Alipay accounts; each call names the
:class:`~paygate.channels.contract.ChannelAccount` it acts for. The account layout::

    merchant_id                  the Alipay app_id (e.g. "2021000000000001")
    gateway_url                  https://openapi.alipay.com/gateway.do (or the sandbox's)
    secrets["app_private_key"]   the app's RSA private key (PKCS#1/PKCS#8 PEM or bare base64)
    secrets["alipay_public_key"] Alipay's RSA public key (SPKI PEM or bare base64)
    params["seller_id"]          optional: the 2088… partner id; notifications must match it
    params["sign_type"]          "RSA2" (default) or "RSA"; a notification signed with the
                                 other one is refused
    notify_url / return_url      paygate's callback URL / the default browser return URL
    timeout_seconds              per-call HTTP timeout

Pay forms: ``qr`` (precreate → QR_CODE), ``page`` (page.pay → REDIRECT GET, or FORM POST
when ``extra["form"]`` is true), ``wap`` (wap.pay, same), ``app`` (app.pay → APP with
``params={"order_string": …}``), ``jsapi`` (trade.create with ``extra["buyer_id"]`` →
JSAPI with ``params={"trade_no": …}``), ``barcode`` (trade.pay with ``extra["auth_code"]``
→ NONE, status SUCCEEDED on 10000 or PAYING on 10003). Errors: see :mod:`.client`; an
answer contradicting the request (other order number or amount) is a ChannelProtocolError.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Final
from urllib.parse import parse_qs, parse_qsl, urlsplit, urlunsplit

import httpx

from paygate.channels.alipay.bill import parse_trade_bill
from paygate.channels.alipay.client import AlipayClient
from paygate.channels.alipay.transformers import (
    METHOD_OF_FORM,
    ResponseMismatch,
    barcode_result,
    build_create,
    jsapi_result,
    notification_from_params,
    precreate_result,
    query_result,
    refund_biz,
    refund_query_result,
    refund_result,
    return_info,
    validate_create,
)
from paygate.channels.contract import (
    AccountSpec,
    ActionKind,
    Bill,
    ChannelAccount,
    ChannelBusinessError,
    ChannelError,
    ChannelProtocolError,
    CloseResult,
    CreatePayment,
    CreateResult,
    Notification,
    NotificationRejected,
    NotifyReply,
    Operation,
    PayAction,
    PaymentStatus,
    PaymentStatusResult,
    RawBill,
    RefundRequest,
    RefundResult,
    RefundStatus,
    ReturnInfo,
    UnknownChannelStatus,
    answer_mapping,
)

__all__ = ["AlipayAdapter"]

_TRADE_NOT_EXIST: Final = "ACQ.TRADE_NOT_EXIST"
_CHARSETS: Final = frozenset({"utf-8", "utf8", "gbk", "gb2312", "gb18030"})


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _trade_biz(attempt_no: str, channel_trade_no: str | None) -> dict[str, str]:
    biz = {"out_trade_no": attempt_no}
    if channel_trade_no:
        biz["trade_no"] = channel_trade_no
    return biz


def _parse_form(body: bytes) -> dict[str, str]:
    """A form body, decoded in the charset it declares; duplicate names are refused."""
    declared = dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True)).get("charset")
    charset = (declared or "utf-8").lower()
    if charset not in _CHARSETS:
        raise ValueError(f"unsupported charset {charset!r}")
    if charset in ("gbk", "gb2312"):
        charset = "gb18030"
    pairs = parse_qsl(
        body.decode(charset),
        keep_blank_values=True,
        strict_parsing=True,
        encoding=charset,
        errors="strict",
    )
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise ValueError(f"parameter {key!r} appears twice")
        params[key] = value
    return params


class AlipayAdapter:
    """:class:`~paygate.channels.contract.ChannelAdapter` for Alipay OpenAPI (RSA2)."""

    channel: str = "alipay"
    methods: frozenset[str] = frozenset(METHOD_OF_FORM)
    #: pay forms whose create_payment only signs locally (no network call)
    offline_methods: frozenset[str] = frozenset({"page", "wap", "app"})
    confirms_notifications: bool = False
    account_spec: AccountSpec = AccountSpec(
        secrets=frozenset({"app_private_key", "alipay_public_key"}),
        optional_params=frozenset({"seller_id", "sign_type"}),
    )

    def __init__(
        self,
        http: httpx.AsyncClient | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient()
        self._clock = clock
        self._client = AlipayClient(self._http, clock=clock)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # ------------------------------------------------------------------ pay

    def validate(self, request: CreatePayment) -> None:
        """CNY only, 0.01–100000000.00, ≥ 1 minute of life, barcode needs ``auth_code``,
        jsapi needs ``buyer_id``; raises ValueError (UnsupportedOperation for a foreign
        pay form)."""
        validate_create(request, self._clock())

    async def create_payment(self, account: ChannelAccount, request: CreatePayment) -> CreateResult:
        call = build_create(request, self._clock())
        op = Operation.CREATE.value
        form = request.method
        if form in ("page", "wap"):
            return_url = request.return_url or account.return_url
            if str(request.extra.get("form", "")).lower() in ("true", "1"):
                html, exchange = self._client.build_form(
                    account, call.method, call.biz, operation=op, return_url=return_url
                )
                action = PayAction(kind=ActionKind.FORM, url=account.gateway_url, method="POST", form=html)
            else:
                url, exchange = self._client.build_page_url(
                    account, call.method, call.biz, operation=op, return_url=return_url
                )
                action = PayAction(kind=ActionKind.REDIRECT, url=url, method="GET")
            return CreateResult(action=action, exchange=exchange)
        if form == "app":
            order_string, exchange = self._client.build_order_string(
                account, call.method, call.biz, operation=op
            )
            action = PayAction(kind=ActionKind.APP, params={"order_string": order_string})
            return CreateResult(action=action, exchange=exchange)
        reply = await self._client.execute(account, call.method, call.biz, operation=op)
        to_result = {"qr": precreate_result, "jsapi": jsapi_result, "barcode": barcode_result}
        with answer_mapping("alipay", reply.exchange):
            result = to_result[form](reply.data, request)
        return replace(result, exchange=reply.exchange)

    async def query_payment(
        self, account: ChannelAccount, attempt_no: str, channel_trade_no: str | None = None
    ) -> PaymentStatusResult:
        """``ACQ.TRADE_NOT_EXIST`` is NOT_FOUND (e.g. a QR code not scanned yet)."""
        try:
            reply = await self._client.execute(
                account,
                "alipay.trade.query",
                _trade_biz(attempt_no, channel_trade_no),
                operation=Operation.QUERY.value,
            )
        except ChannelBusinessError as exc:
            if exc.sub_code != _TRADE_NOT_EXIST:
                raise
            return PaymentStatusResult(
                attempt_no=attempt_no,
                status=PaymentStatus.NOT_FOUND,
                channel_status=exc.sub_code,
                exchange=exc.exchange,
            )
        with answer_mapping("alipay", reply.exchange):
            result = query_result(reply.data, attempt_no)
        return replace(result, exchange=reply.exchange)

    async def close_payment(
        self, account: ChannelAccount, attempt_no: str, channel_trade_no: str | None = None
    ) -> CloseResult:
        """``ACQ.TRADE_NOT_EXIST`` → ``closed=False`` (nothing was created at Alipay)."""
        return await self._close("alipay.trade.close", Operation.CLOSE, account, attempt_no, channel_trade_no)

    async def cancel_payment(
        self, account: ChannelAccount, attempt_no: str, channel_trade_no: str | None = None
    ) -> CloseResult:
        """Reverse a barcode payment whatever its state (closed if unpaid, refunded if paid).
        An answer with ``retry_flag`` = Y raises ChannelTimeout: call again."""
        return await self._close(
            "alipay.trade.cancel", Operation.CANCEL, account, attempt_no, channel_trade_no
        )

    async def _close(
        self,
        method: str,
        operation: Operation,
        account: ChannelAccount,
        attempt_no: str,
        channel_trade_no: str | None,
    ) -> CloseResult:
        try:
            reply = await self._client.execute(
                account,
                method,
                _trade_biz(attempt_no, channel_trade_no),
                operation=operation.value,
            )
        except ChannelBusinessError as exc:
            if exc.sub_code != _TRADE_NOT_EXIST:
                raise
            return CloseResult(closed=False, exchange=exc.exchange)
        with answer_mapping("alipay", reply.exchange):
            out_trade_no = reply.data.get("out_trade_no")
            if out_trade_no not in (None, "", attempt_no):
                raise ResponseMismatch(f"out_trade_no {out_trade_no!r} is not {attempt_no!r}")
        return CloseResult(closed=True, exchange=reply.exchange)

    # ------------------------------------------------------------------ refunds

    async def refund(self, account: ChannelAccount, request: RefundRequest) -> RefundResult:
        """``out_request_no`` = ``refund_no``, so a repeat is idempotent at Alipay. A
        ``fund_change`` = N answer (a repeat) is confirmed with a refund query."""
        reply = await self._client.execute(
            account, "alipay.trade.refund", refund_biz(request), operation=Operation.REFUND.value
        )
        with answer_mapping("alipay", reply.exchange):
            result = replace(refund_result(reply.data, request), exchange=reply.exchange)
        if result.status is not RefundStatus.PROCESSING:
            return result
        try:
            confirmed = await self.query_refund(account, request.refund_no, request.attempt_no)
        except ChannelError:
            return result  # accepted, not yet confirmed: the caller queries later
        if confirmed.status is RefundStatus.SUCCEEDED:
            if confirmed.amount is not None and confirmed.amount != request.amount:
                reply.exchange.error = f"refund_amount {confirmed.amount} != {request.amount}"
                raise ChannelProtocolError(f"alipay: {reply.exchange.error}", exchange=reply.exchange)
            return replace(
                result,
                status=RefundStatus.SUCCEEDED,
                refunded_at=confirmed.refunded_at or result.refunded_at,
                channel_status="fund_change=N, confirmed by query",
            )
        return result

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
        biz = {
            "out_trade_no": attempt_no,
            "out_request_no": refund_no,
            "query_options": ["gmt_refund_pay"],
        }
        try:
            reply = await self._client.execute(
                account,
                "alipay.trade.fastpay.refund.query",
                biz,
                operation=Operation.QUERY_REFUND.value,
            )
        except ChannelBusinessError as exc:
            if exc.sub_code != _TRADE_NOT_EXIST:
                raise
            return RefundResult(
                refund_no=refund_no,
                status=RefundStatus.NOT_FOUND,
                channel_status=exc.sub_code,
                exchange=exc.exchange,
            )
        with answer_mapping("alipay", reply.exchange):
            result = refund_query_result(reply.data, refund_no, attempt_no)
        return replace(result, exchange=reply.exchange)

    # ------------------------------------------------------------------ inbound

    def parse_notification(
        self, account: ChannelAccount, headers: Mapping[str, str], body: bytes
    ) -> Notification:
        """Verify, then map. Refused (NotificationRejected): unreadable form, missing or bad
        signature, another sign_type, app_id ≠ account, seller_id ≠ the configured one,
        an unknown trade_status."""
        try:
            params = _parse_form(body)
        except (ValueError, LookupError) as exc:
            raise NotificationRejected(f"unreadable notification: {exc}") from None
        payload = {k: v for k, v in params.items() if k != "sign"}
        if not params.get("sign"):
            raise NotificationRejected("the notification is unsigned", payload)
        if not self._client.verify_callback(account, params):
            raise NotificationRejected("the notification's signature does not verify", payload)
        if params.get("app_id") != account.merchant_id:
            raise NotificationRejected(f"app_id {params.get('app_id')!r} is not this account's", payload)
        seller_id = account.params.get("seller_id")
        if seller_id and params.get("seller_id") != seller_id:
            raise NotificationRejected(
                f"seller_id {params.get('seller_id')!r} is not this account's", payload
            )
        try:
            return notification_from_params(params)
        except (ValueError, UnknownChannelStatus) as exc:
            raise NotificationRejected(f"unusable notification: {exc}", payload) from None

    def notify_reply(self, accepted: bool) -> NotifyReply:
        """Exactly ``success`` (stop re-sending) or ``fail`` (re-send later)."""
        return NotifyReply(status_code=200, body=b"success" if accepted else b"fail")

    def parse_return(self, account: ChannelAccount, query: Mapping[str, str]) -> ReturnInfo:
        """The browser's return: ``verified`` only with a good signature for this app_id.
        Never proof of payment."""
        params = dict(query)
        verified = (
            bool(params.get("sign"))
            and params.get("app_id") == account.merchant_id
            and self._client.verify_callback(account, params)
        )
        try:
            return return_info(params, verified=verified)
        except ValueError:
            return return_info(params, verified=False)

    # ------------------------------------------------------------------ bills

    async def download_bill(self, account: ChannelAccount, bill_date: date) -> Bill:
        """The ``trade`` bill of one day. No bill yet → ChannelBusinessError with sub_code
        ``isp.bill_not_exist`` (never an empty bill: that would hide the day's trades)."""
        reply = await self._client.execute(
            account,
            "alipay.data.dataservice.bill.downloadurl.query",
            {"bill_type": "trade", "bill_date": bill_date.isoformat()},
            operation=Operation.BILL.value,
        )
        url = reply.data.get("bill_download_url")
        if not isinstance(url, str) or not url:
            reply.exchange.error = "no bill_download_url"
            raise ChannelProtocolError("alipay bill: no bill_download_url", exchange=reply.exchange)
        content = await self._client.download(account, url, operation=Operation.BILL.value)
        with answer_mapping("alipay", reply.exchange):
            bill = parse_trade_bill(content, bill_date)
        name = parse_qs(urlsplit(url).query).get("downloadFileName", [""])[0] or f"{bill_date}.csv.zip"
        source = urlunsplit(urlsplit(url)._replace(query="", fragment=""))  # the token is a secret
        raw = RawBill(name=name, content=content, source=source, media_type="application/zip")
        return replace(bill, raw=raw)
