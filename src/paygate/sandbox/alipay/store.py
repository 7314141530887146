"""Where one Alipay sandbox keeps its things: the trade book (every order and trade),
the merchant apps and buyers it knows, and the bill files it has rendered.

Each public method of :class:`TradeBook` is one atomic step (lock held, no ``await``
inside), so concurrent requests never see or make a half-done change: two refunds racing
for the last yuan cannot both succeed. Methods return *snapshots* and the
:class:`TradeEvent`\\s the step produced (payments, closes, refunds) for the notifier.
Before every step, trades whose deadline has passed are closed, so expiry is exact to the
sandbox clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Literal

from paygate.sandbox.alipay.bills import BillStore
from paygate.sandbox.alipay.errors import AlipayError, business
from paygate.sandbox.alipay.keys import Buyer, MerchantApp, SandboxIdentity
from paygate.sandbox.alipay.notifications import publish
from paygate.sandbox.alipay.state import (
    IllegalTransition,
    Refund,
    RefundStatus,
    Trade,
    TradeEvent,
    TradeState,
    new_trade_no,
)
from paygate.sandbox.harness import Harness

__all__ = ["AlipayStore", "BuyerAction", "RefundStep", "TradeBook"]

BuyerAction = Literal["scan", "pay", "fail", "cancel", "finish"]
RefundStep = Literal["moved", "processing", "repeat"]
Events = list[TradeEvent]

_S = TradeState


def _refuse_settled(trade: Trade) -> None:
    if trade.state in (_S.TRADE_SUCCESS, _S.TRADE_FINISHED):
        raise business("ACQ.TRADE_HAS_SUCCESS")
    if trade.state is _S.TRADE_CLOSED:
        raise business("ACQ.TRADE_HAS_CLOSE")


class TradeBook:
    def __init__(self, harness: Harness) -> None:
        self._clock = harness.clock
        self._lock = threading.RLock()
        self._trades: dict[tuple[str, str], Trade] = {}
        self._by_trade_no: dict[str, Trade] = {}
        self._by_token: dict[str, Trade] = {}

    # -- lookups (snapshots) ------------------------------------------------------------

    def by_token(self, token: str) -> Trade | None:
        with self._lock:
            trade = self._by_token.get(token)
            return trade.snapshot() if trade else None

    def find(self, out_trade_no: str, app_id: str | None = None) -> list[Trade]:
        with self._lock:
            return [
                t.snapshot()
                for (a, o), t in self._trades.items()
                if o == out_trade_no and (app_id is None or a == app_id)
            ]

    def by_trade_no(self, trade_no: str) -> Trade | None:
        with self._lock:
            trade = self._by_trade_no.get(trade_no)
            return trade.snapshot() if trade else None

    def all(self, seller_id: str | None = None) -> list[Trade]:
        with self._lock:
            return [t.snapshot() for t in self._trades.values() if seller_id in (None, t.seller_id)]

    def expire(self) -> Events:
        """Close every created trade whose deadline passed (the background sweep)."""
        with self._lock:
            return self._expire(self._clock.now())

    # -- the merchant creates ----------------------------------------------------------

    def issue(self, draft: Trade) -> tuple[Trade, Events]:
        """Record a QR code / pay URL / order string; the same consistent order again
        gives back the first one (same QR code) until it expires unscanned."""
        with self._lock:
            now = self._clock.now()
            events = self._expire(now)
            trade = self._reuse_or_add(draft, now)
            return trade.snapshot(), events

    def open(self, token: str, buyer: Buyer) -> tuple[Trade, Events]:
        """The buyer scans the QR code / opens the cashier: the trade comes to exist."""
        return self.act(token, "scan", buyer)

    def create(self, draft: Trade, buyer: Buyer) -> tuple[Trade, Events]:
        """``alipay.trade.create``: the trade exists at once, waiting for the buyer."""
        with self._lock:
            now = self._clock.now()
            events = self._expire(now)
            trade = self._reuse_or_add(draft, now)
            if trade.state is _S.ISSUED:
                self._open(trade, buyer, now)
            return trade.snapshot(), events

    def barcode(
        self, draft: Trade, buyer: Buyer, *, confirm: bool, failure: AlipayError | None
    ) -> tuple[Trade, Events]:
        """``alipay.trade.pay``: paid at once, or waiting for the buyer to confirm
        (``confirm``), or refused with ``failure`` (no trade is created then)."""
        with self._lock:
            now = self._clock.now()
            events = self._expire(now)
            existing = self._trades.get((draft.app_id, draft.out_trade_no))
            if existing is not None:
                self._check_consistent(existing, draft)
            if failure is not None:
                raise failure
            trade = self._reuse_or_add(draft, now)
            if trade.state is _S.ISSUED:
                self._open(trade, buyer, now)
            if not confirm:
                events += self._pay(trade, now)
            return trade.snapshot(), events

    # -- the buyer acts (cashier pages, control API) -----------------------------------

    def act(
        self, token: str, action: BuyerAction, buyer: Buyer, *, rebind: bool = False
    ) -> tuple[Trade, Events]:
        """``rebind``: the payer is ``buyer`` even if someone else opened the cashier."""
        with self._lock:
            now = self._clock.now()
            events = self._expire(now)
            trade = self._by_token.get(token)
            if trade is None:
                raise business("ACQ.TRADE_NOT_EXIST")
            if action == "finish":
                if trade.state is not _S.TRADE_SUCCESS:
                    raise business("ACQ.TRADE_STATUS_ERROR")
                trade.move_to(_S.TRADE_FINISHED)
                return trade.snapshot(), [*events, TradeEvent("finished", trade.snapshot())]
            if trade.state is _S.ISSUED:
                if trade.deadline <= now:
                    raise business("ACQ.TRADE_HAS_CLOSE", "二维码已失效")
                self._open(trade, buyer, now)
            elif action == "scan" and trade.state is _S.WAIT_BUYER_PAY:
                return trade.snapshot(), events
            _refuse_settled(trade)
            if action == "pay":
                trade.buyer = buyer if rebind else trade.buyer
                events += self._pay(trade, now)
            elif action == "fail":
                trade.payment_failures.append("BUYER_BALANCE_NOT_ENOUGH")
            elif action == "cancel":
                events += self._close(trade, now)
            return trade.snapshot(), events

    # -- the merchant manages ----------------------------------------------------------

    def query(self, app_id: str, out_trade_no: str, trade_no: str) -> tuple[Trade, Events]:
        with self._lock:
            events = self._expire(self._clock.now())
            return self._visible(app_id, out_trade_no, trade_no).snapshot(), events

    def close(self, app_id: str, out_trade_no: str, trade_no: str) -> tuple[Trade, Events]:
        with self._lock:
            now = self._clock.now()
            events = self._expire(now)
            trade = self._visible(app_id, out_trade_no, trade_no)
            if trade.state is not _S.WAIT_BUYER_PAY:
                raise business("ACQ.TRADE_STATUS_ERROR")
            return trade.snapshot(), events + self._close(trade, now)

    def cancel(self, app_id: str, out_trade_no: str, trade_no: str) -> tuple[Trade, Events]:
        """Unpaid: close (``action=close``). Paid: refund it all and close
        (``action=refund``). Already cancelled: the same answer again."""
        with self._lock:
            now = self._clock.now()
            events = self._expire(now)
            trade = self._visible(app_id, out_trade_no, trade_no)
            if trade.state is _S.TRADE_FINISHED:
                raise business("ACQ.TRADE_HAS_FINISHED")
            if trade.state is _S.WAIT_BUYER_PAY:
                trade.cancel_action = "close"
                events += self._close(trade, now)
            elif trade.state is _S.TRADE_SUCCESS:
                trade.cancel_action = "refund"
                events += self._add_refund(trade, Refund("", trade.refundable_amount, "", now), now)
            elif not trade.cancel_action:
                trade.cancel_action = "refund" if trade.refunds else "close"
            return trade.snapshot(), events

    def refund(
        self, app_id: str, out_trade_no: str, trade_no: str, *, amount: int,
        out_request_no: str, reason: str, at_once: Callable[[], bool] = lambda: True,
    ) -> tuple[Trade, Refund, RefundStep, Events]:  # fmt: skip
        """Returns the trade, the refund and what this call did: its money ``moved``
        (``fund_change=Y``), it is ``processing`` (``at_once()`` said no: it waits for
        :meth:`settle_refund`), or it is a ``repeat``. A failed refund is made again."""
        with self._lock:
            now = self._clock.now()
            events = self._expire(now)
            trade = self._visible(app_id, out_trade_no, trade_no)
            earlier = trade.refund(out_request_no)
            if earlier is not None and earlier.amount != amount:
                raise business("ACQ.DISCORDANT_REPEAT_REQUEST")
            if earlier is not None and earlier.status is not RefundStatus.FAILED:
                return trade.snapshot(), earlier, "repeat", events
            if trade.state is _S.WAIT_BUYER_PAY:
                raise business("ACQ.TRADE_STATUS_ERROR")
            if trade.state is _S.TRADE_CLOSED:
                raise business("ACQ.TRADE_HAS_CLOSE")
            if trade.state is _S.TRADE_FINISHED:
                raise business("ACQ.TRADE_HAS_FINISHED")
            if amount > trade.refundable_amount:
                raise business("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")
            refund = earlier or Refund(out_request_no, amount, reason, now, RefundStatus.PROCESSING)
            if earlier is not None:
                earlier.move_to(RefundStatus.PROCESSING)
            else:
                trade.refunds.append(refund)
            if not at_once():
                return trade.snapshot(), refund, "processing", events
            events += self._refund_done(trade, refund, now)
            return trade.snapshot(), refund, "moved", events

    def settle_refund(self, app_id: str, out_trade_no: str, out_request_no: str, success: bool) -> Events:
        """A processing refund's money moves (``success``) or the refund fails."""
        with self._lock:
            now = self._clock.now()
            trade = self._trades.get((app_id, out_trade_no))
            refund = trade.refund(out_request_no) if trade is not None else None
            if trade is None or refund is None or refund.status is not RefundStatus.PROCESSING:
                raise IllegalTransition(f"no processing refund {out_request_no!r} of {out_trade_no!r}")
            if not success:
                refund.move_to(RefundStatus.FAILED)
                return []
            return self._refund_done(trade, refund, now)

    def refund_query(
        self, app_id: str, out_trade_no: str, trade_no: str, out_request_no: str
    ) -> tuple[Trade, Refund | None]:
        with self._lock:
            trade = self._visible(app_id, out_trade_no, trade_no)
            return trade.snapshot(), trade.refund(out_request_no)

    # -- internals (lock held) ---------------------------------------------------------

    def _check_consistent(self, existing: Trade, draft: Trade) -> None:
        _refuse_settled(existing)
        if (existing.total_amount, existing.subject) != (draft.total_amount, draft.subject):
            raise business("ACQ.CONTEXT_INCONSISTENT")

    def _reuse_or_add(self, draft: Trade, now: datetime) -> Trade:
        existing = self._trades.get((draft.app_id, draft.out_trade_no))
        if existing is not None:
            self._check_consistent(existing, draft)
            if existing.exists or existing.deadline > now:
                return existing
            self._by_token.pop(existing.token, None)  # expired unscanned: issue afresh
        self._trades[(draft.app_id, draft.out_trade_no)] = draft
        self._by_token[draft.token] = draft
        return draft

    def _visible(self, app_id: str, out_trade_no: str, trade_no: str) -> Trade:
        trade = self._by_trade_no.get(trade_no) if trade_no else self._trades.get((app_id, out_trade_no))
        if (
            trade is None
            or not trade.exists
            or trade.app_id != app_id
            or (out_trade_no and trade.out_trade_no != out_trade_no)
        ):
            raise business("ACQ.TRADE_NOT_EXIST")
        return trade

    def _open(self, trade: Trade, buyer: Buyer, now: datetime) -> None:
        trade.move_to(_S.WAIT_BUYER_PAY)
        trade.trade_no = new_trade_no(now)
        trade.gmt_create = now
        trade.buyer = buyer
        self._by_trade_no[trade.trade_no] = trade

    def _pay(self, trade: Trade, now: datetime) -> Events:
        trade.move_to(_S.TRADE_SUCCESS)
        trade.gmt_payment = now
        return [TradeEvent("paid", trade.snapshot())]

    def _close(self, trade: Trade, now: datetime) -> Events:
        trade.move_to(_S.TRADE_CLOSED)
        trade.gmt_close = now
        return [TradeEvent("closed", trade.snapshot())]

    def _add_refund(self, trade: Trade, refund: Refund, now: datetime) -> Events:
        trade.refunds.append(refund)
        return self._refund_done(trade, refund, now)

    def _refund_done(self, trade: Trade, refund: Refund, now: datetime) -> Events:
        if refund.status is not RefundStatus.SUCCESS:
            refund.move_to(RefundStatus.SUCCESS)
        refund.at = now
        if trade.refunded_amount == trade.total_amount:
            trade.move_to(_S.TRADE_CLOSED)
            trade.gmt_close = now
        return [TradeEvent("refunded", trade.snapshot(), refund)]

    def _expire(self, now: datetime) -> Events:
        events: Events = []
        for trade in self._trades.values():
            if trade.state is _S.WAIT_BUYER_PAY and trade.deadline <= now:
                events += self._close(trade, trade.deadline)
        return events


class AlipayStore:
    """What one Alipay sandbox instance holds, and the harness it runs on: the trade book,
    the merchant apps and buyers, the rendered bills; ``publish`` notifies events."""

    def __init__(self, harness: Harness, identity: SandboxIdentity) -> None:
        self.harness = harness
        self.identity = identity
        self.book = TradeBook(harness)
        self.bills = BillStore()
        self._merchants_lock = threading.Lock()
        self._merchants = {identity.demo_merchant.app_id: identity.demo_merchant}

    @property
    def public_url(self) -> str:
        return self.harness.public_url

    @property
    def gateway_url(self) -> str:
        return f"{self.public_url}/gateway.do"

    def qr_url(self, token: str) -> str:
        return f"{self.public_url}/qr/{token}"

    def cashier_url(self, token: str) -> str:
        return f"{self.public_url}/cashier/{token}"

    @property
    def merchants(self) -> dict[str, MerchantApp]:
        with self._merchants_lock:
            return dict(self._merchants)

    def add_merchant(self, app: MerchantApp) -> None:
        with self._merchants_lock:
            self._merchants[app.app_id] = app

    def merchant(self, app_id: str) -> MerchantApp:
        with self._merchants_lock:
            return self._merchants[app_id]

    def buyer(self, user_id: str | None = None) -> Buyer:
        """The demo buyer, or the buyer with this Alipay user id."""
        if not user_id or user_id == self.identity.demo_buyer.user_id:
            return self.identity.demo_buyer
        return Buyer.for_user_id(user_id)

    def publish(self, events: Iterable[TradeEvent]) -> None:
        """Notify each event whose trade has a ``notify_url``."""
        for event in events:
            publish(self.harness, event, self.merchant(event.trade.app_id), self.identity.alipay_private_key)

    def sweep(self) -> None:
        """Close expired trades now and notify about them."""
        self.publish(self.book.expire())
