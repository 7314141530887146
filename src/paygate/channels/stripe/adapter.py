"""The Stripe channel adapter (R-CH-1, R-CH-2, R-CH-3, R-NTF-1, R-SEC-3).

One :class:`StripeAdapter` serves any number of Stripe accounts; each call names the
:class:`~paygate.channels.contract.ChannelAccount` it acts for. The account layout::

    merchant_id                  the Stripe account id (acct_…), informational
    gateway_url                  the API base: https://api.stripe.com (or the sandbox's …/stripe)
    secrets["secret_key"]        sk_live_… / sk_test_… (or a restricted rk_… key)
    secrets["webhook_secret"]    whsec_… of the webhook endpoint that posts to notify_url
    params["statement_descriptor"]  optional: sent as ``statement_descriptor_suffix``
                                 (cards take only a suffix to the account's descriptor)
    return_url                   default 3-D Secure return URL (a request's own wins)
    timeout_seconds              the budget of one call, retries included

One pay form, ``card``: the business system's front end collects the card with Stripe.js
and passes the PaymentMethod id as ``extra["payment_method"]``; ``create_payment`` creates
and confirms a PaymentIntent at once (idempotency key ``create:<attempt_no>``). Answers:
succeeded → SUCCEEDED with ``PayAction(NONE)``; 3-D Secure → PAYING with ``PayAction(
REDIRECT, url=next_action.redirect_to_url.url)`` (``JSAPI`` with the client secret when no
return URL exists); processing → PAYING; a decline → ChannelBusinessError(``card_declined``,
sub_code = decline code). ``channel_trade_no`` is the PaymentIntent id.

Operations without the Stripe id (a query after a create timeout, a refund query) find the
object by paygate's number in Stripe's lists: see :mod:`.lookup`. Errors: see
:mod:`.client`; an answer contradicting the request (other attempt, amount or currency) is
a ChannelProtocolError.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from urllib.parse import quote

import httpx

from paygate.channels.contract import (
    AccountSpec,
    Bill,
    BillLine,
    ChannelAccount,
    ChannelBusinessError,
    ChannelError,
    ChannelProtocolError,
    CloseResult,
    CreatePayment,
    CreateResult,
    Exchange,
    Notification,
    NotificationRejected,
    NotifyReply,
    Operation,
    PaymentStatus,
    PaymentStatusResult,
    PayoutItem,
    PayoutReport,
    RawBill,
    RefundRequest,
    RefundResult,
    RefundStatus,
    ReturnInfo,
    UnknownChannelStatus,
    answer_mapping,
)
from paygate.channels.stripe.bill import bill_line
from paygate.channels.stripe.client import DEFAULT_MAX_RETRIES, DEFAULT_RETRY_DELAY, StripeClient
from paygate.channels.stripe.events import notification_from_event, return_info
from paygate.channels.stripe.lookup import DEFAULT_SCAN_PAGES, Lookup
from paygate.channels.stripe.protocol import SignatureError, idempotency_key, mask_wire, verify_signature
from paygate.channels.stripe.transformers import (
    METHODS,
    ResponseMismatch,
    check_intent,
    create_params,
    create_result,
    query_result,
    refund_params,
    refund_result,
    timestamp,
    validate_create,
)

__all__ = ["StripeAdapter"]

_MISSING: Final = "resource_missing"
_CLOSED_ALREADY: Final = frozenset({"canceled"})
_NOT_CANCELABLE: Final = frozenset({"succeeded", "processing"})
_MAX_BILL_PAGES: Final = 1000


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def _livemode_of(secret_key: str) -> bool | None:
    if secret_key.startswith(("sk_live_", "rk_live_")):
        return True
    if secret_key.startswith(("sk_test_", "rk_test_")):
        return False
    return None


class StripeAdapter:
    """:class:`~paygate.channels.contract.ChannelAdapter` for Stripe PaymentIntents."""

    channel: str = "stripe"
    methods: frozenset[str] = METHODS
    #: every pay form calls the channel's API (none is signed locally)
    offline_methods: frozenset[str] = frozenset()
    confirms_notifications: bool = True
    account_spec: AccountSpec = AccountSpec(
        secrets=frozenset({"secret_key", "webhook_secret"}),
        optional_params=frozenset({"statement_descriptor"}),
    )

    def __init__(
        self,
        http: httpx.AsyncClient | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_delay: float = DEFAULT_RETRY_DELAY,
        scan_pages: int = DEFAULT_SCAN_PAGES,
        page_size: int = 100,
    ) -> None:
        """``max_retries``/``retry_delay``: see :mod:`.client`; ``scan_pages``: how many
        list pages a lookup by paygate's number walks (:mod:`.lookup`); ``page_size``:
        objects per list page (Stripe allows 1–100)."""
        if not 1 <= page_size <= 100:
            raise ValueError("page_size must be between 1 and 100")
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient()
        self._clock = clock
        self._client = StripeClient(self._http, max_retries=max_retries, retry_delay=retry_delay)
        self._lookup = Lookup(self._client, scan_pages, page_size)
        self._page_size = page_size

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # ------------------------------------------------------------------ pay

    def validate(self, request: CreatePayment) -> None:
        """``card`` only, ``extra.payment_method`` required, amounts Stripe can take exactly
        (three-decimal currencies in multiples of 10, ISK whole units); raises ValueError
        (UnsupportedOperation for another pay form)."""
        validate_create(request)

    async def create_payment(self, account: ChannelAccount, request: CreatePayment) -> CreateResult:
        params = create_params(
            request,
            return_url=request.return_url or account.return_url,
            descriptor_suffix=account.params.get("statement_descriptor", ""),
        )
        reply = await self._client.post(
            account,
            "/v1/payment_intents",
            params,
            operation=Operation.CREATE.value,
            idempotency_key=idempotency_key("create", request.attempt_no),
        )
        with answer_mapping("stripe", reply.exchange):
            result = create_result(reply.data, request)
        return replace(result, exchange=reply.exchange)

    async def _intent(
        self, account: ChannelAccount, attempt_no: str, channel_trade_no: str | None, operation: Operation
    ) -> tuple[Mapping[str, Any] | None, Exchange]:
        """The attempt's PaymentIntent (``latest_charge`` expanded), or None if Stripe has
        none; by id when paygate has it, else by ``metadata.attempt_no`` (see .lookup)."""
        if not channel_trade_no:
            found = await self._lookup.intent(account, attempt_no, operation=operation.value)
            return found.obj, found.exchange
        try:
            reply = await self._client.get(
                account,
                f"/v1/payment_intents/{quote(channel_trade_no, safe='')}",
                {"expand": ["latest_charge"]},
                operation=operation.value,
            )
        except ChannelBusinessError as exc:
            if exc.code != _MISSING or exc.exchange is None:
                raise
            return None, exc.exchange
        return reply.data, reply.exchange

    async def query_payment(
        self, account: ChannelAccount, attempt_no: str, channel_trade_no: str | None = None
    ) -> PaymentStatusResult:
        """By PaymentIntent id; without it, by ``metadata.attempt_no`` among the newest
        intents (a ChannelError if it is older than that). No intent → NOT_FOUND."""
        intent, exchange = await self._intent(account, attempt_no, channel_trade_no, Operation.QUERY)
        if intent is None:
            return PaymentStatusResult(
                attempt_no=attempt_no,
                status=PaymentStatus.NOT_FOUND,
                channel_status=_MISSING,
                exchange=exchange,
            )
        with answer_mapping("stripe", exchange):
            result = query_result(intent, attempt_no)
        return replace(result, exchange=exchange)

    async def close_payment(
        self, account: ChannelAccount, attempt_no: str, channel_trade_no: str | None = None
    ) -> CloseResult:
        """Cancel the PaymentIntent. No intent → ``closed=False``; already canceled →
        ``closed=True``; succeeded or processing → ChannelBusinessError (sub_code = status).

        The intent is read first, and the cancel's idempotency key names the status it was
        seen in (``close:<attempt_no>:<status>``): a retry replays the same cancel, while a
        later close of an intent that has moved on is a new request — Stripe keeps a key's
        answer for 24 hours, and a stale "cannot cancel while processing" must not stick."""
        intent, exchange = await self._intent(account, attempt_no, channel_trade_no, Operation.CLOSE)
        if intent is None:
            return CloseResult(closed=False, exchange=exchange)
        with answer_mapping("stripe", exchange):
            intent_id = check_intent(intent, attempt_no)
        status = str(intent.get("status", ""))
        if status in _CLOSED_ALREADY:
            return CloseResult(closed=True, exchange=exchange)
        if status in _NOT_CANCELABLE:
            exchange.error = f"the PaymentIntent is {status}: it cannot be canceled"
            raise ChannelBusinessError(
                f"stripe close: {exchange.error}",
                code="payment_intent_unexpected_state",
                sub_code=status,
                exchange=exchange,
            )
        reply = await self._client.post(
            account,
            f"/v1/payment_intents/{quote(intent_id, safe='')}/cancel",
            {"cancellation_reason": "abandoned"},
            operation=Operation.CLOSE.value,
            idempotency_key=idempotency_key("close", f"{attempt_no}:{status}"),
        )
        with answer_mapping("stripe", reply.exchange):
            check_intent(reply.data, attempt_no)
            if reply.data.get("status") != "canceled":
                raise ResponseMismatch(f"the cancel left the intent {reply.data.get('status')!r}")
        return CloseResult(closed=True, exchange=reply.exchange)

    # ------------------------------------------------------------------ refunds

    async def refund(self, account: ChannelAccount, request: RefundRequest) -> RefundResult:
        """A (partial) refund of the attempt's PaymentIntent, idempotency key
        ``refund:<refund_no>``: repeating it replays the first refund. Stripe answers
        synchronously (``succeeded``, or ``pending`` for slow methods)."""
        intent_id = request.channel_trade_no
        if not intent_id:
            intent, exchange = await self._intent(account, request.attempt_no, None, Operation.REFUND)
            if intent is None:
                exchange.error = f"no PaymentIntent for attempt {request.attempt_no}"
                raise ChannelBusinessError(
                    f"stripe refund: {exchange.error}", code=_MISSING, exchange=exchange
                )
            with answer_mapping("stripe", exchange):
                intent_id = check_intent(intent, request.attempt_no)
        params = refund_params(request, intent_id)
        reply = await self._client.post(
            account,
            "/v1/refunds",
            params,
            operation=Operation.REFUND.value,
            idempotency_key=idempotency_key("refund", request.refund_no),
        )
        with answer_mapping("stripe", reply.exchange):
            result = refund_result(reply.data, request.refund_no, amount=request.amount, intent_id=intent_id)
        return replace(result, exchange=reply.exchange)

    async def query_refund(
        self,
        account: ChannelAccount,
        refund_no: str,
        attempt_no: str,
        channel_trade_no: str | None = None,
        channel_refund_no: str | None = None,
    ) -> RefundResult:
        """By refund id when given; else by ``metadata.refund_no`` among the intent's
        refunds (``channel_trade_no``) or the account's newest refunds. The two extra
        arguments go beyond the contract (see docs/channels/stripe.md)."""
        operation = Operation.QUERY_REFUND.value
        refund: Mapping[str, Any] | None
        if channel_refund_no:
            try:
                reply = await self._client.get(
                    account, f"/v1/refunds/{quote(channel_refund_no, safe='')}", operation=operation
                )
                refund, exchange = reply.data, reply.exchange
            except ChannelBusinessError as exc:
                if exc.code != _MISSING or exc.exchange is None:
                    raise
                refund, exchange = None, exc.exchange
        else:
            found = await self._lookup.refund(account, refund_no, channel_trade_no, operation=operation)
            refund, exchange = found.obj, found.exchange
        if refund is None:
            return RefundResult(
                refund_no=refund_no, status=RefundStatus.NOT_FOUND, channel_status=_MISSING, exchange=exchange
            )
        with answer_mapping("stripe", exchange):
            metadata = refund.get("metadata")
            owner = metadata.get("attempt_no") if isinstance(metadata, Mapping) else None
            if owner not in (None, attempt_no):
                raise ResponseMismatch(f"refund {refund_no} belongs to attempt {owner!r}")
            result = refund_result(refund, refund_no, intent_id=channel_trade_no or None)
        return replace(result, exchange=exchange)

    # ------------------------------------------------------------------ inbound

    def parse_notification(
        self, account: ChannelAccount, headers: Mapping[str, str], body: bytes
    ) -> Notification:
        """Verify ``Stripe-Signature`` over the raw body, then map. Refused
        (NotificationRejected): no or bad signature, a timestamp more than 300 s off,
        an unreadable event, a test event for a live key (or the reverse), an unknown
        status. Events about objects paygate did not create are OTHER."""
        try:
            event: Any = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            event = None
        payload = mask_wire(event) if isinstance(event, dict) else {}
        header = _header(headers, "stripe-signature")
        if not header:
            raise NotificationRejected("no Stripe-Signature header", payload)
        try:
            secret = account.secret("webhook_secret")
            verify_signature(body, header, secret, int(self._clock().timestamp()))
        except (SignatureError, ChannelError) as exc:
            raise NotificationRejected(f"the webhook's signature does not verify: {exc}", payload) from None
        if not isinstance(event, dict):
            raise NotificationRejected("the webhook's body is not a JSON object", payload)
        api_key = account.secrets.get("secret_key")
        expected_mode = _livemode_of(api_key.reveal()) if api_key else None
        livemode = event.get("livemode")
        if expected_mode is not None and isinstance(livemode, bool) and livemode != expected_mode:
            modes = ("live" if livemode else "test", "live" if expected_mode else "test")
            raise NotificationRejected("a {}-mode event for a {}-mode account".format(*modes), payload)
        try:
            return notification_from_event(event)
        except (ValueError, UnknownChannelStatus) as exc:
            raise NotificationRejected(f"unusable event: {exc}", payload) from None

    def notify_reply(self, accepted: bool) -> NotifyReply:
        """2xx stops Stripe's retries; anything else is retried for up to three days."""
        if accepted:
            return NotifyReply(200, b'{"received":true}', "application/json")
        return NotifyReply(400, b'{"received":false}', "application/json")

    def parse_return(self, account: ChannelAccount, query: Mapping[str, str]) -> ReturnInfo:
        """The 3-D Secure return names the attempt (``attempt_no``, added to the return URL
        at create) but is unsigned: ``verified`` is False, the service must query."""
        return return_info(query)

    # ------------------------------------------------------------------ bills

    async def download_bill(self, account: ChannelAccount, bill_date: date) -> Bill:
        """The balance transactions created on ``bill_date`` (a UTC day), oldest first."""
        start = datetime.combine(bill_date, time.min, UTC)
        end = start + timedelta(days=1)
        query: dict[str, Any] = {
            "created": {"gte": int(start.timestamp()), "lt": int(end.timestamp())},
            "limit": self._page_size,
            "expand": ["data.source"],
        }
        lines: list[BillLine] = []
        pages: list[bytes] = []
        for _ in range(_MAX_BILL_PAGES):
            reply = await self._client.get(
                account, "/v1/balance_transactions", query, operation=Operation.BILL.value
            )
            items = reply.data.get("data")
            with answer_mapping("stripe", reply.exchange):
                if not isinstance(items, list):
                    raise ResponseMismatch("balance transactions: no data list")
                pages.extend(json.dumps(item, sort_keys=True).encode() + b"\n" for item in items)
                for item in items:
                    if not isinstance(item, Mapping):
                        raise ResponseMismatch("balance transactions: an item is not an object")
                    line = bill_line(item)
                    if line is not None:
                        lines.append(line)
            if not reply.data.get("has_more") or not items:
                break
            query["starting_after"] = items[-1].get("id")
        else:
            raise ChannelProtocolError(f"stripe bill: more than {_MAX_BILL_PAGES} pages for {bill_date}")
        lines.reverse()  # Stripe lists newest first; the sort below is stable
        lines.sort(key=lambda line: line.occurred_at)
        name = f"stripe-balance-transactions-{bill_date}"
        raw = RawBill(
            name=f"{name}.jsonl",
            content=b"".join(pages),
            source=f"{account.gateway_url.rstrip('/')}/v1/balance_transactions",
            media_type="application/x-ndjson",
        )
        return Bill(bill_date=bill_date, lines=lines, raw_name=name, raw=raw)

    async def list_payouts(self, account: ChannelAccount, day: date) -> list[PayoutReport]:
        """The payouts created on ``day`` (UTC), each with the balance transactions it paid
        out (``GET /v1/balance_transactions?payout=…``, sources expanded): R-REC-4."""
        start = datetime.combine(day, time.min, UTC)
        end = start + timedelta(days=1)
        query: dict[str, Any] = {"created": {"gte": int(start.timestamp()), "lt": int(end.timestamp())},
                                 "limit": self._page_size}  # fmt: skip
        payouts: list[Mapping[str, Any]] = []
        for _ in range(_MAX_BILL_PAGES):
            reply = await self._client.get(account, "/v1/payouts", query, operation=Operation.BILL.value)
            items = reply.data.get("data")
            with answer_mapping("stripe", reply.exchange):
                if not isinstance(items, list):
                    raise ResponseMismatch("payouts: no data list")
            payouts += [p for p in items if isinstance(p, Mapping)]
            if not reply.data.get("has_more") or not items:
                break
            query["starting_after"] = items[-1].get("id")
        reports = []
        for payout in payouts:
            created = timestamp(payout.get("created"))
            if created is None or not start <= created < end:
                continue  # a server that ignores the created filter
            reports.append(await self._payout_report(account, payout, created))
        return reports

    async def _payout_report(
        self, account: ChannelAccount, payout: Mapping[str, Any], created: datetime
    ) -> PayoutReport:
        query: dict[str, Any] = {
            "payout": payout.get("id"),
            "limit": self._page_size,
            "expand": ["data.source"],
        }
        items: list[PayoutItem] = []
        for _ in range(_MAX_BILL_PAGES):
            reply = await self._client.get(
                account, "/v1/balance_transactions", query, operation=Operation.BILL.value
            )
            found = reply.data.get("data")
            with answer_mapping("stripe", reply.exchange):
                if not isinstance(found, list):
                    raise ResponseMismatch("balance transactions: no data list")
                for bt in found:
                    if not isinstance(bt, Mapping) or bt.get("type") == "payout":
                        continue
                    line = bill_line(bt)
                    amount, fee, net = (int(bt.get(k) or 0) for k in ("amount", "fee", "net"))
                    items.append(
                        PayoutItem(
                            kind=line.kind if line else "other",
                            amount=amount,
                            fee=fee,
                            net=net,
                            channel_trade_no=line.channel_trade_no if line else "",
                            refund_no=line.refund_no if line else None,
                        )
                    )
            if not reply.data.get("has_more") or not found:
                break
            query["starting_after"] = found[-1].get("id")
        paid_out, currency = payout.get("amount"), payout.get("currency")
        with answer_mapping("stripe", Exchange("payout")):
            if not isinstance(paid_out, int) or not isinstance(currency, str):
                raise ResponseMismatch(f"payout {payout.get('id')!r} has no amount or currency")
        return PayoutReport(
            payout_id=str(payout.get("id")),
            amount=paid_out,
            currency=currency.upper(),
            created_at=created,
            status=str(payout.get("status") or ""),
            items=items,
        )
