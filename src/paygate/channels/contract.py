"""The channel contract: what every payment channel adapter offers, over neutral data.

An adapter is code; a :class:`ChannelAccount` (credentials, URLs, fee rate) is data, and
one adapter serves any number of accounts (R-CH-3). Money crosses this boundary as
:class:`~paygate.kit.money.Money` (integer minor units); the adapter converts to the
channel's wire format at its edge.

Exceptions an adapter raises::

    ChannelError                     base; ``retryable`` tells the resilience layer
    ├── ChannelUnavailable           request surely not processed (connect failure, 5xx busy)
    ├── ChannelTimeout               outcome unknown: the request may have been processed
    ├── ChannelBusinessError         a final business answer (declined, trade closed ...)
    ├── ChannelProtocolError         unreadable / unsigned / badly signed answer: outcome unknown
    ├── UnknownChannelStatus         a status the transformer's map does not know: alert
    └── UnsupportedOperation         the channel does not offer this operation or pay form
    NotificationRejected             a notification that must change nothing (forged, mismatched)
    ResponseMismatch (ValueError)    a transformer's complaint about a verified answer (an echo
                                     that differs from the request, a missing field); the
                                     adapter turns it into ChannelProtocolError (answer_mapping)
    AccountSpecError (ValueError)    a channel account's secrets or params do not fit the spec
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from paygate.kit.crypto import Secret
from paygate.kit.money import Money

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "AccountSpec",
    "AccountSpecError",
    "ActionKind",
    "Bill",
    "BillLine",
    "BillTotals",
    "ChannelAccount",
    "ChannelAdapter",
    "ChannelBusinessError",
    "ChannelError",
    "ChannelProtocolError",
    "ChannelTimeout",
    "ChannelUnavailable",
    "CloseResult",
    "CreatePayment",
    "CreateResult",
    "Exchange",
    "Notification",
    "NotificationKind",
    "NotificationRejected",
    "NotifyReply",
    "Operation",
    "PayAction",
    "PaymentStatus",
    "PaymentStatusResult",
    "PayoutItem",
    "PayoutReport",
    "PayoutSource",
    "RawBill",
    "RefundRequest",
    "RefundResult",
    "RefundStatus",
    "ResponseMismatch",
    "ReturnInfo",
    "UnknownChannelStatus",
    "UnsupportedOperation",
    "answer_mapping",
    "expect_echo",
    "expect_equal",
]


# --------------------------------------------------------------------------- accounts


@dataclass(frozen=True)
class ChannelAccount:
    """One configured account of a channel (a "variant" in django-payments' words).

    ``secrets`` holds decrypted credentials wrapped in :class:`Secret` so they never print
    (Alipay: ``app_private_key``, ``alipay_public_key``; WeChat: ``merchant_private_key``,
    ``apiv3_key`` ...). ``params`` holds non-secret settings (``seller_id``, ``sign_type``,
    ``merchant_serial_no`` ...). ``notify_url`` is paygate's own public callback URL for
    this account (``…/notify/{channel}/{account_id}``).
    """

    id: int
    channel: str
    name: str
    merchant_id: str  # Alipay app_id, WeChat mchid, Stripe account id
    gateway_url: str
    secrets: Mapping[str, Secret]
    params: Mapping[str, str] = field(default_factory=dict)
    notify_url: str = ""
    return_url: str = ""
    fee_rate_bp: int = 0  # basis points (0.6% = 60)
    #: a fixed fee per payment, in minor units of ``fee_currency`` (Stripe: 2.9 % + 30¢)
    fee_fixed: int = 0
    #: the currency the fee terms are stated in (the account's settlement currency); only
    #: bill lines in it are checked against them. None: every line (a flat rate has no currency)
    fee_currency: str | None = None
    timeout_seconds: float = 10.0

    def secret(self, name: str) -> str:
        try:
            return self.secrets[name].reveal()
        except KeyError:
            raise ChannelError(f"channel account {self.id} lacks secret {name!r}") from None


class AccountSpecError(ValueError):
    """A channel account's secrets or params do not fit its adapter's :class:`AccountSpec`."""


@dataclass(frozen=True)
class AccountSpec:
    """What a channel account of an adapter must (and may) hold. Checked when an account is
    added, so a missing or misspelt secret is refused at once, not at the first payment."""

    secrets: frozenset[str]
    params: frozenset[str] = frozenset()
    optional_secrets: frozenset[str] = frozenset()
    optional_params: frozenset[str] = frozenset()

    def check(self, channel: str, secrets: Iterable[str], params: Iterable[str]) -> None:
        problems = [
            *self._problems("secret", set(secrets), self.secrets, self.optional_secrets),
            *self._problems("param", set(params), self.params, self.optional_params),
        ]
        if problems:
            raise AccountSpecError(f"{channel} account: " + "; ".join(problems))

    @staticmethod
    def _problems(
        kind: str, given: set[str], required: frozenset[str], optional: frozenset[str]
    ) -> list[str]:
        known = required | optional
        out = [f"missing {kind} {name!r}" for name in sorted(required - given)]
        for name in sorted(given - known):
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = (
                f" (did you mean {close[0]!r}?)"
                if close
                else f" (known: {', '.join(sorted(known)) or 'none'})"
            )
            out.append(f"unknown {kind} {name!r}{hint}")
        return out


# --------------------------------------------------------------------------- statuses


class PaymentStatus(StrEnum):
    """Channel-neutral payment status, as a transformer maps the channel's own."""

    NOT_FOUND = "not_found"  # the channel has no such trade (yet): e.g. QR not scanned
    PENDING = "pending"  # created, awaiting the payer
    PAYING = "paying"  # the payer is acting (password entry, 3-D Secure ...)
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the payment failed for good
    CLOSED = "closed"  # closed / cancelled / expired unpaid
    REFUNDED = "refunded"  # paid, then (partly) refunded: the payment itself succeeded


class RefundStatus(StrEnum):
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # closed / abnormal, money not returned
    NOT_FOUND = "not_found"


class ActionKind(StrEnum):
    """How the client proceeds after a pay request (R-API-3)."""

    REDIRECT = "redirect"  # open ``url`` with GET
    FORM = "form"  # render ``form`` (auto-submitting HTML, method POST)
    QR_CODE = "qr_code"  # show ``qr_code`` as a QR image
    APP = "app"  # hand ``params`` (or ``order_string``) to the channel's app SDK
    JSAPI = "jsapi"  # hand ``params`` to the in-app browser / mini-program API
    NONE = "none"  # nothing to do: synchronous (barcode) or server-side confirm


class Operation(StrEnum):
    CREATE = "create"
    QUERY = "query"
    CLOSE = "close"
    CANCEL = "cancel"
    REFUND = "refund"
    QUERY_REFUND = "query_refund"
    NOTIFY = "notify"
    RETURN = "return"
    BILL = "bill"


# --------------------------------------------------------------------------- exchange log


@dataclass
class Exchange:
    """One request/response with a channel, recorded in the trade log (R-LOG-2).

    Adapters fill it with *masked* wire data: no keys, no signatures needed to replay.
    """

    operation: str
    request: Any = None
    response: Any = None
    http_status: int | None = None
    duration_ms: int | None = None
    error: str | None = None


# --------------------------------------------------------------------------- requests / results


@dataclass(frozen=True)
class CreatePayment:
    """Ask the channel to create a payment.

    ``attempt_no`` is what the channel sees as the merchant's order number (Alipay/WeChat
    ``out_trade_no``); it is unique per attempt, ≤ 32 chars of ``[A-Za-z0-9_]``.
    ``method`` is the pay form, the part after the dot of the pay type (``page``, ``qr``,
    ``wap``, ``app``, ``jsapi``, ``barcode``, ``native``, ``h5``, ``card`` ...).
    ``extra`` carries method-specific inputs from the caller (``auth_code`` for barcode,
    ``buyer_id``/``openid`` for JSAPI, ``payment_method`` for cards ...).
    """

    attempt_no: str
    trade_no: str
    method: str
    amount: Money
    subject: str
    expire_at: datetime
    description: str = ""
    client_ip: str = ""
    return_url: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PayAction:
    kind: ActionKind
    url: str | None = None
    method: str | None = None  # "GET" | "POST" for url/form
    form: str | None = None  # auto-submitting HTML form
    qr_code: str | None = None
    params: Mapping[str, Any] | None = None  # app / JSAPI parameters

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind.value}
        for name in ("url", "method", "form", "qr_code", "params"):
            value = getattr(self, name)
            if value is not None:
                out[name] = dict(value) if name == "params" else value
        return out


@dataclass(frozen=True)
class CreateResult:
    """The channel accepted the request. ``status`` is set when the answer is already a
    payment outcome (barcode pay, card confirm); otherwise it is PENDING."""

    action: PayAction
    status: PaymentStatus = PaymentStatus.PENDING
    channel_trade_no: str | None = None
    paid_amount: Money | None = None
    paid_at: datetime | None = None
    exchange: Exchange | None = None


@dataclass(frozen=True)
class PaymentStatusResult:
    attempt_no: str
    status: PaymentStatus
    channel_trade_no: str | None = None
    amount: Money | None = None  # the trade's total as the channel knows it
    paid_at: datetime | None = None
    channel_status: str = ""  # the channel's own status word, for the log
    exchange: Exchange | None = None


@dataclass(frozen=True)
class CloseResult:
    closed: bool  # False: nothing to close at the channel (never created there)
    exchange: Exchange | None = None


@dataclass(frozen=True)
class RefundRequest:
    refund_no: str  # paygate's refund number, sent as the channel's out_refund_no / out_request_no
    attempt_no: str
    channel_trade_no: str | None
    amount: Money  # the refund's amount
    total: Money  # the original payment's amount
    reason: str = ""


@dataclass(frozen=True)
class RefundResult:
    refund_no: str
    status: RefundStatus
    channel_refund_no: str | None = None
    amount: Money | None = None
    refunded_at: datetime | None = None
    channel_status: str = ""
    exchange: Exchange | None = None


class NotificationKind(StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"
    OTHER = "other"  # verified but not about a trade (acknowledged, ignored)


@dataclass(frozen=True)
class Notification:
    """A verified notification, mapped to neutral terms.

    Only returned by :meth:`ChannelAdapter.parse_notification` after the signature (and
    decryption) checked out and the merchant identity matched the account; the service
    then checks trade, amount and currency against its own records.
    """

    kind: NotificationKind
    notification_id: str  # the channel's identity of this notification (for the inbox)
    attempt_no: str = ""
    channel_trade_no: str | None = None
    payment_status: PaymentStatus | None = None
    refund_no: str | None = None
    refund_status: RefundStatus | None = None
    amount: Money | None = None  # payment total (payment) or refund amount (refund)
    occurred_at: datetime | None = None
    channel_status: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)  # masked, for the log


@dataclass(frozen=True)
class NotifyReply:
    """The exact HTTP answer the channel expects (Alipay: ``success`` / ``fail``)."""

    status_code: int
    body: bytes
    media_type: str = "text/plain"


@dataclass(frozen=True)
class ReturnInfo:
    """What the payer's browser brought back on the synchronous return (never trusted as
    proof of payment; it only says which trade to show)."""

    attempt_no: str
    verified: bool
    channel_trade_no: str | None = None
    amount: Money | None = None


@dataclass(frozen=True)
class BillLine:
    channel_trade_no: str
    attempt_no: str
    kind: str  # "payment" | "refund"
    amount: Money  # positive for payments, positive for refunds (``kind`` tells)
    fee: Money | None
    occurred_at: datetime
    refund_no: str | None = None
    raw: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RawBill:
    """The bill exactly as the channel served it, kept for audit (R-REC-1): ``content`` is
    the file's bytes (Alipay's zip, WeChat's gzip, Stripe's listed pages as JSON lines),
    ``checksum`` their SHA-256, ``source`` where they came from (a URL without its token)."""

    name: str
    content: bytes
    source: str
    media_type: str = "application/octet-stream"

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class BillTotals:
    """What the channel itself states a bill adds up to (its summary rows), in minor units:
    reconciliation checks the lines against them (R-REC-4)."""

    payments: int
    refunds: int
    fees: int | None = None
    payment_count: int | None = None
    refund_count: int | None = None


class ColumnarLines(Protocol):
    """A bill too large to hold as :class:`BillLine` objects, read once, in order: frames of
    normalised lines (the columns of
    :data:`~paygate.channels.wechatpay.bill_frames.FRAME_SCHEMA`), then :attr:`totals` —
    what the channel states, once every line is read (a bad file raises while read)."""

    totals: BillTotals | None

    def __iter__(self) -> Iterator[pl.DataFrame]: ...


@dataclass(frozen=True)
class Bill:
    bill_date: date
    lines: list[BillLine]
    raw_name: str = ""
    raw: RawBill | None = None
    totals: BillTotals | None = None
    #: the lines in columns instead (``lines`` is then empty and ``totals`` the reader's)
    reader: ColumnarLines | None = None


@dataclass(frozen=True)
class PayoutItem:
    """A balance movement a payout paid out: a payment, a refund (``kind`` as a bill line's),
    or another movement (``other``: fees, adjustments), with the channel's own figures."""

    kind: str  # "payment" | "refund" | "refund_failure" | "other"
    amount: int  # minor units of the payout's currency, signed as the balance moved
    fee: int
    net: int
    channel_trade_no: str = ""
    refund_no: str | None = None


@dataclass(frozen=True)
class PayoutReport:
    """One settlement the channel paid to the merchant's bank (Stripe: a payout), with the
    movements it contains (R-REC-4)."""

    payout_id: str
    amount: int  # what reached (or will reach) the bank, minor units
    currency: str
    created_at: datetime
    status: str
    items: list[PayoutItem]


@runtime_checkable
class PayoutSource(Protocol):
    """An adapter whose channel reports settlements apart from its bill (Stripe)."""

    async def list_payouts(self, account: ChannelAccount, day: date) -> list[PayoutReport]:
        """The payouts created on ``day`` (the channel's day), each with its movements."""
        ...


# --------------------------------------------------------------------------- errors


class ChannelError(Exception):
    """A channel call failed. ``retryable``: trying again may succeed."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        sub_code: str = "",
        exchange: Exchange | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.sub_code = sub_code
        self.exchange = exchange


class ChannelUnavailable(ChannelError):
    """The request was surely not processed (connection refused, channel busy)."""

    retryable = True


class ChannelTimeout(ChannelError):
    """No answer in time: the channel may or may not have processed the request."""

    retryable = True


class ChannelProtocolError(ChannelError):
    """An answer that cannot be trusted (unreadable, unsigned, bad signature)."""

    retryable = True


class ChannelBusinessError(ChannelError):
    """A final business answer: declined, trade closed, already paid, not found ..."""

    retryable = False


class UnknownChannelStatus(ChannelError):
    """The channel sent a status word the transformer's exhaustive map does not know."""

    retryable = True


class UnsupportedOperation(ChannelError):
    """The channel does not offer this operation or pay form."""


class ResponseMismatch(ValueError):
    """A verified answer that does not fit the request: an echoed order number, amount or
    currency that differs from what was asked, or a field the answer must carry."""


def expect_equal(what: str, actual: object, expected: object) -> None:
    """A value the channel reports must be the one the request asked for."""
    if actual != expected:
        raise ResponseMismatch(f"{what} {actual!r} does not match the request's {expected!r}")


def expect_echo(data: Mapping[str, Any], field: str, expected: str, *, required: bool = True) -> None:
    """The channel must echo ``field`` exactly as the request sent it; with ``required``
    False an answer that leaves the field out passes (it contradicts nothing)."""
    value = data.get(field)
    if value in (None, "") and not required:
        return
    expect_equal(field, value, expected)


class NotificationRejected(Exception):
    """A notification that must change nothing: bad signature, wrong merchant, unreadable."""

    def __init__(self, reason: str, payload: Mapping[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.payload = payload or {}


# --------------------------------------------------------------------------- the contract


@runtime_checkable
class ChannelAdapter(Protocol):
    """One channel's adapter. Stateless apart from caches; one instance per channel.

    ``methods`` lists the pay forms it offers; an operation or pay form it does not offer
    raises :class:`UnsupportedOperation` (the capability matrix is in docs/channels.md).
    """

    channel: str
    methods: frozenset[str]
    #: The secrets and params a channel account of this adapter holds (checked on add).
    account_spec: AccountSpec
    #: True when notifications are authenticated with a secret the merchant also holds
    #: (Stripe's webhook secret, an HMAC): the signature proves less than a channel's private
    #: key would, so a claimed success is read back from the channel before it is credited.
    confirms_notifications: bool
    #: Pay forms whose ``create_payment`` makes no network call (it signs what the payer
    #: takes to the channel, e.g. Alipay page/wap/app). The service then writes the trade
    #: once, after signing; for every other form it writes the trade before the call.
    offline_methods: frozenset[str]

    def validate(self, request: CreatePayment) -> None:
        """The channel's own validation hook (R-API-6): raise ValueError with a message."""

    async def create_payment(self, account: ChannelAccount, request: CreatePayment) -> CreateResult: ...

    async def query_payment(
        self, account: ChannelAccount, attempt_no: str, channel_trade_no: str | None = None
    ) -> PaymentStatusResult: ...

    async def close_payment(
        self, account: ChannelAccount, attempt_no: str, channel_trade_no: str | None = None
    ) -> CloseResult: ...

    async def refund(self, account: ChannelAccount, request: RefundRequest) -> RefundResult: ...

    async def query_refund(
        self,
        account: ChannelAccount,
        refund_no: str,
        attempt_no: str,
        channel_trade_no: str | None = None,
        channel_refund_no: str | None = None,
    ) -> RefundResult:
        """The refund's status. ``channel_trade_no`` / ``channel_refund_no``, when known, let
        a channel that lists refunds by its own ids (Stripe) find it directly."""
        ...

    def parse_notification(
        self, account: ChannelAccount, headers: Mapping[str, str], body: bytes
    ) -> Notification:
        """Verify and parse. Raise :class:`NotificationRejected` if it cannot be trusted."""
        ...

    def notify_reply(self, accepted: bool) -> NotifyReply: ...

    def parse_return(self, account: ChannelAccount, query: Mapping[str, str]) -> ReturnInfo: ...

    async def download_bill(self, account: ChannelAccount, bill_date: date) -> Bill: ...

    async def aclose(self) -> None:
        """Release HTTP clients."""


# --------------------------------------------------------------------------- adapter helper


@contextlib.contextmanager
def answer_mapping(channel: str, exchange: Exchange) -> Iterator[None]:
    """Around a transformer reading a *verified* answer: an unknown status keeps its kind
    (and gets the exchange); any other complaint (``ValueError``: mismatched order or amount,
    unreadable money, a bad bill) becomes a :class:`ChannelProtocolError` — the answer
    cannot be trusted, so the outcome is unknown."""
    try:
        yield
    except UnknownChannelStatus as exc:
        exc.exchange = exc.exchange or exchange
        exchange.error = exc.message
        raise
    except ValueError as exc:
        exchange.error = str(exc)
        raise ChannelProtocolError(f"{channel}: {exc}", exchange=exchange) from None
