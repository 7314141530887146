"""Checkouts: an order waiting on paygate's cashier page for the payer to pick how to pay.

``Cashier.open`` (``POST /gopay`` with ``pay_type: "cashier"``) records the order under an
unguessable token and answers with the cashier's URL; nothing is sent to a channel. When the
payer picks a pay type on the page, ``Cashier.pay`` hands the order to
:class:`~paygate.payments.creating.PaymentCreator` under the app's own ``out_order_no`` — so
the trade, its idempotency, its state machine and its notifications are exactly those of
gateway mode, and picking another pay type later is the payer switching method (a new
attempt of the same trade). The page polls :meth:`Cashier.status`, which reads paygate's own
state (never the channel, R-PAY-8).

The trade never outlives the checkout: it is created with the whole minutes left before the
checkout expires, and a checkout with less than a minute left takes no new payment.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode

from paygate.auth.apps import AppAuthenticator
from paygate.channels.contract import CreatePayment
from paygate.channels.gateway import ChannelGateway
from paygate.domain.apps import AppContext
from paygate.domain.trades import TradeState
from paygate.kit import metrics
from paygate.kit.clock import iso_utc, utc_now
from paygate.kit.errors import ConflictError, ErrorCode, NotFoundError, PaygateError, RequestError
from paygate.kit.ids import new_attempt_no
from paygate.kit.money import CURRENCY_EXPONENTS, MAX_AMOUNT_MINOR, Money
from paygate.models import Checkout
from paygate.payments.commands import PayCommand, TradeRef
from paygate.payments.creating import PaymentCreator
from paygate.payments.querying import TradeQueries
from paygate.payments.trade_view import TradeView
from paygate.repositories import Database

__all__ = [
    "CASHIER_PAY_TYPE",
    "OFFERED_PAY_TYPES",
    "Cashier",
    "CheckoutCommand",
    "CheckoutPage",
    "CheckoutStatus",
]

#: The pay type an app sends to open the cashier instead of one pay form.
CASHIER_PAY_TYPE: Final = "cashier"
#: Pay forms a browser can complete by itself, in the order the cashier shows them. Barcode,
#: app and JSAPI forms need inputs only the app has (a scanned code, an SDK, an open id).
OFFERED_PAY_TYPES: Final = (
    "alipay.qr",
    "alipay.page",
    "alipay.wap",
    "wechat.native",
    "wechat.h5",
    "stripe.card",
)
#: Kinds of pay form, for the page: a QR code to scan, a page the browser goes to, a card.
PAY_FORMS: Final = {
    "alipay.qr": "qr",
    "wechat.native": "qr",
    "alipay.page": "page",
    "alipay.wap": "page",
    "wechat.h5": "page",
    "stripe.card": "card",
}
#: Forms shown only on a computer (a site made for a large screen) or only on a phone (mobile
#: sites, WeChat's H5 which checks the browser); QR codes and cards everywhere. Display only:
#: the payer's choice is checked against what the app may use, not against the device.
DESKTOP_ONLY: Final = frozenset({"alipay.page"})
MOBILE_ONLY: Final = frozenset({"alipay.wap", "wechat.h5"})
#: What a form's validation needs beyond the order, to ask "would the channel take it?"
_SAMPLE_EXTRA: Final[dict[str, dict[str, Any]]] = {"card": {"payment_method": "pm_card_visa"}}
_SAMPLE_TRADE_NO: Final = "T" + "0" * 26
TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{43}")
PAYMENT_METHOD: Final = re.compile(r"pm_[A-Za-z0-9_]{1,96}")
_FINAL = (TradeState.SUCCEEDED, TradeState.FAILED, TradeState.CLOSED)


@dataclass(frozen=True)
class CheckoutCommand:
    out_order_no: str
    amount: int
    currency: str
    subject: str
    description: str | None = None
    expire_minutes: int | None = None
    notify_url: str | None = None
    return_url: str | None = None
    client_ip: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckoutPage:
    """What the cashier page shows."""

    token: str
    app_id: str
    out_order_no: str
    amount: int
    currency: str
    subject: str
    description: str | None
    expire_at: datetime
    pay_types: tuple[str, ...]
    trade: TradeView | None
    expired: bool

    @property
    def final(self) -> bool:
        return self.trade is not None and self.trade["state"] in {str(s) for s in _FINAL}


@dataclass(frozen=True)
class CheckoutStatus:
    """What the page's poll reads: paygate's state, and where the browser goes next."""

    state: str  # a trade state, "open" before the payer picked a pay type, or "expired"
    trade_no: str | None
    done: bool
    next_url: str | None


_iso = iso_utc


class Cashier:
    def __init__(
        self,
        db: Database,
        creator: PaymentCreator,
        queries: TradeQueries,
        apps: AppAuthenticator,
        gateway: ChannelGateway,
        *,
        public_base_url: str,
        default_expire_minutes: int = 30,
        max_expire_minutes: int = 60 * 24 * 15,
    ) -> None:
        self._db = db
        self._creator = creator
        self._queries = queries
        self._apps = apps
        self._gateway = gateway
        self._base = public_base_url.rstrip("/")
        self._default_expire = default_expire_minutes
        self._max_expire = max_expire_minutes

    def url(self, token: str) -> str:
        return f"{self._base}/cashier/{token}"

    # ------------------------------------------------------------------ the app opens a checkout

    async def open(self, app: AppContext, cmd: CheckoutCommand) -> dict[str, Any]:
        """Record the checkout (idempotent on ``(app, out_order_no)``) and answer as ``/gopay``
        does, with ``action.type = "redirect"`` to the cashier page."""
        if cmd.currency not in CURRENCY_EXPONENTS:
            raise RequestError(f"currency {cmd.currency!r} is not supported", code=ErrorCode.UNKNOWN_CURRENCY)
        if not 1 <= cmd.amount <= MAX_AMOUNT_MINOR:
            raise RequestError(
                f"amount must be between 1 and {MAX_AMOUNT_MINOR} minor units", code=ErrorCode.INVALID_AMOUNT
            )
        if not self.offer(app):
            raise RequestError(
                f"this app may use none of the pay types the cashier offers ({', '.join(OFFERED_PAY_TYPES)})",
                code=ErrorCode.PAY_TYPE_NOT_ALLOWED,
            )
        expire = cmd.expire_minutes if cmd.expire_minutes is not None else self._default_expire
        if not 1 <= expire <= self._max_expire:
            raise RequestError(f"expire_minutes must be between 1 and {self._max_expire}")
        existing_trade = await self._order_trade(app.app_id, cmd.out_order_no)
        if existing_trade is not None and (
            existing_trade["amount"] != cmd.amount or existing_trade["currency"] != cmd.currency
        ):  # the app paid this order in gateway mode with another amount
            raise ConflictError(
                "out_order_no was already used with a different amount or currency",
                code=ErrorCode.ORDER_MISMATCH,
                details={"trade_no": existing_trade["trade_no"]},
            )
        now = utc_now()
        row = Checkout(
            token=secrets.token_urlsafe(32),
            app_id=app.app_id,
            out_order_no=cmd.out_order_no,
            amount=cmd.amount,
            currency=cmd.currency,
            subject=cmd.subject,
            description=cmd.description,
            notify_url=cmd.notify_url,
            return_url=cmd.return_url,
            client_ip=cmd.client_ip,
            metadata_=cmd.metadata,
            expire_at=now + timedelta(minutes=expire),
            created_at=now,
        )
        async with self._db.transaction() as uow:
            inserted = await uow.insert_unique(row)
        if not inserted:  # a repeat, or a concurrent duplicate: the first one stands
            async with self._db.reading() as uow:
                existing = await uow.checkouts.by_order(app.app_id, cmd.out_order_no)
            if existing is None:
                raise ConflictError(code=ErrorCode.TRADE_IN_PROGRESS)
            if existing.amount != cmd.amount or existing.currency != cmd.currency:
                raise ConflictError(
                    "out_order_no was already used with a different amount or currency",
                    code=ErrorCode.ORDER_MISMATCH,
                    # the order's trade, once the payer picked a pay type (null before)
                    details={"trade_no": existing_trade["trade_no"] if existing_trade else None},
                )
            row = existing
        metrics.CASHIER_CHECKOUTS.labels("opened" if inserted else "repeated").inc()
        trade = await self._trade(row)
        return self._answer(row, trade)

    def _answer(self, row: Checkout, trade: TradeView | None) -> dict[str, Any]:
        action = {"type": "redirect", "method": "GET", "url": self.url(row.token)}
        if trade is not None:  # the payer already picked a pay type: the trade as it is,
            # in /gopay's shape (a query's view also lists the refunds)
            return {**{k: v for k, v in trade.items() if k != "refunds"}, "action": action}
        return {
            "trade_no": None,
            "app_id": row.app_id,
            "out_order_no": row.out_order_no,
            "pay_type": CASHIER_PAY_TYPE,
            "state": "created",
            "amount": row.amount,
            "currency": row.currency,
            "subject": row.subject,
            "paid_amount": None,
            "refunded_amount": 0,
            "refund_status": "none",
            "extra_paid_amount": 0,
            "channel_trade_no": None,
            "expire_at": _iso(row.expire_at),
            "paid_at": None,
            "closed_at": None,
            "created_at": _iso(row.created_at),
            "metadata": row.metadata_ or {},
            "action": action,
        }

    # ------------------------------------------------------------------ the payer's page

    def offer(self, app: AppContext) -> tuple[str, ...]:
        return tuple(p for p in OFFERED_PAY_TYPES if p in app.allowed_pay_types)

    async def page(self, token: str, *, mobile: bool = False) -> CheckoutPage:
        """The page's content; the pay types shown are those the app may use, the device
        suits, and the channel's own rules take for this order (currency, amount …)."""
        row, app = await self._load(token)
        trade = await self._trade(row)
        hidden = DESKTOP_ONLY if mobile else MOBILE_ONLY
        shown = tuple(p for p in self.offer(app) if p not in hidden and self._takes(p, row))
        return CheckoutPage(
            token=row.token,
            app_id=row.app_id,
            out_order_no=row.out_order_no,
            amount=row.amount,
            currency=row.currency,
            subject=row.subject,
            description=row.description,
            expire_at=row.expire_at,
            pay_types=shown,
            trade=trade,
            expired=row.expire_at <= utc_now(),
        )

    async def pay(
        self, token: str, pay_type: str, payment_method: str | None = None, *, payer_ip: str | None = None
    ) -> TradeView:
        """The payer picked ``pay_type``: create (or switch) the trade through the payment
        services. Refused, with nothing changed, for a pay type the cashier does not offer
        this app, an expired checkout, or a trade that is already over."""
        row, app = await self._load(token)
        if pay_type not in self.offer(app):
            raise RequestError(
                f"this checkout does not offer {pay_type!r}", code=ErrorCode.PAY_TYPE_NOT_ALLOWED
            )
        left = row.expire_at - utc_now()
        if left < timedelta(minutes=1):
            raise ConflictError(code=ErrorCode.CHECKOUT_EXPIRED)
        extra: dict[str, Any] = {}
        if PAY_FORMS[pay_type] == "card":
            if payment_method is None or not PAYMENT_METHOD.fullmatch(payment_method):
                raise RequestError("choose a card", code=ErrorCode.INVALID_REQUEST)
            extra["payment_method"] = payment_method
        trade = await self._trade(row)
        if trade is not None and trade["state"] in {str(s) for s in _FINAL}:
            raise ConflictError(
                "this order is already over", code=ErrorCode.ILLEGAL_STATE, details={"state": trade["state"]}
            )
        return await self._creator.pay(
            app,
            PayCommand(
                out_order_no=row.out_order_no,
                pay_type=pay_type,
                amount=row.amount,
                currency=row.currency,
                subject=row.subject,
                description=row.description,
                expire_minutes=int(left.total_seconds() // 60),  # never past the checkout
                notify_url=row.notify_url,
                # the browser comes back to the cashier, which waits for paygate's own state
                return_url=self.url(row.token),
                # the app's client_ip if it gave one, else the payer's browser (H5 forms need it)
                client_ip=row.client_ip or payer_ip,
                extra=extra,
                metadata=dict(row.metadata_ or {}),
            ),
        )

    def _takes(self, pay_type: str, row: Checkout) -> bool:
        """Whether the channel's own validation would take this order with this form."""
        try:
            kind = self._gateway.pay_type(pay_type)
            self._gateway.validate(
                kind,
                CreatePayment(
                    attempt_no=new_attempt_no(_SAMPLE_TRADE_NO, 1),  # shaped as a real one
                    trade_no=_SAMPLE_TRADE_NO,
                    method=kind.method,
                    amount=Money(row.amount, row.currency),
                    subject=row.subject,
                    expire_at=max(row.expire_at, utc_now() + timedelta(minutes=1)),
                    description=row.description or "",
                    client_ip="127.0.0.1",
                    extra=_SAMPLE_EXTRA.get(PAY_FORMS[pay_type], {}),
                ),
            )
        except (ValueError, PaygateError):
            return False
        return True

    async def status(self, token: str) -> CheckoutStatus:
        row, _ = await self._load(token)
        trade = await self._trade(row)
        expired = row.expire_at <= utc_now()
        if trade is not None:
            # once the checkout expired the page stops waiting, but it says what paygate knows:
            # a trade still pending or unknown may yet be paid (the reliability engine closes
            # it at the channel, and a payment after that is refunded, R-PAY-5)
            state = trade["state"]
            done = state in {str(s) for s in _FINAL} or expired
        elif expired:
            state, done = "expired", True
        else:
            state, done = "open", False
        trade_no = trade["trade_no"] if trade else None
        return CheckoutStatus(state, trade_no, done, self._back(row, trade_no, state) if done else None)

    def _back(self, row: Checkout, trade_no: str | None, state: str) -> str | None:
        """The app's return URL with what happened (never proof of payment: the app checks
        with ``/query/trade`` or its notification)."""
        if not row.return_url:
            return None
        query = urlencode(
            {
                k: v
                for k, v in {"trade_no": trade_no, "out_order_no": row.out_order_no, "state": state}.items()
                if v
            }
        )
        sep = "&" if "?" in row.return_url else "?"
        return f"{row.return_url}{sep}{query}"

    # ------------------------------------------------------------------ helpers

    async def _load(self, token: str) -> tuple[Checkout, AppContext]:
        if not TOKEN.fullmatch(token):
            raise NotFoundError(code=ErrorCode.CHECKOUT_NOT_FOUND)
        async with self._db.reading() as uow:
            row = await uow.checkouts.by_token(token)
        app = await self._apps.load(row.app_id) if row is not None else None
        if row is None or app is None:  # an app disabled since takes no payment
            raise NotFoundError(code=ErrorCode.CHECKOUT_NOT_FOUND)
        return row, app.context

    async def _trade(self, row: Checkout) -> TradeView | None:
        return await self._order_trade(row.app_id, row.out_order_no)

    async def _order_trade(self, app_id: str, out_order_no: str) -> TradeView | None:
        """The order's trade as paygate knows it (its cache or database), if there is one."""
        try:
            return await self._queries.query(app_id, TradeRef(out_order_no=out_order_no))
        except NotFoundError as exc:
            if exc.code is ErrorCode.TRADE_NOT_FOUND:
                return None
            raise
