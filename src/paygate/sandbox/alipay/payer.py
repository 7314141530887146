"""The buyer, and what the control API shows of Alipay's trades (the harness serves the
routes; this is the Alipay side of :class:`paygate.sandbox.harness.Controls`).

``POST /_sandbox/pay`` ``{"trade": X, "outcome": …, "buyer_id"?, "app_id"?}`` where X is
an ``out_trade_no`` (or ``trade_no``) the sandbox knows, a ``qr_code`` URL, a page/wap pay
URL (``page_execute(req, "GET")`` or the signed query python-alipay-sdk returns, prefixed
with the gateway), or an app pay order string. Outcomes:

- ``pay``: the buyer pays: ``TRADE_SUCCESS`` and its notification.
- ``scan``: the buyer scans / opens the cashier: the trade exists, ``WAIT_BUYER_PAY``.
- ``fail``: a payment attempt fails (insufficient balance). Alipay changes nothing and
  notifies nothing: the trade (created if needed) keeps waiting and can still be paid.
- ``cancel``: the buyer gives up and the trade is closed: ``TRADE_CLOSED`` and its
  notification (as when an unpaid trade times out).
- ``finish``: a paid trade's refund period ends: ``TRADE_FINISHED`` and its notification.

Refunds are named by ``out_request_no`` (``?out_trade_no=`` and ``?app_id=`` narrow it);
one left processing by the ``refunds`` fault is settled with ``REFUND_SUCCESS`` or
``REFUND_FAILED``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, cast
from urllib.parse import urlsplit

from paygate.sandbox.alipay.api import CLIENT_METHODS, authenticate
from paygate.sandbox.alipay.errors import AlipayError
from paygate.sandbox.alipay.resources.refunds import REFUND_OUTCOMES, settle
from paygate.sandbox.alipay.resources.trades import open_client_order
from paygate.sandbox.alipay.state import IllegalTransition, Refund, Trade, TradeState
from paygate.sandbox.alipay.store import AlipayStore, BuyerAction
from paygate.sandbox.alipay.wire import decode_request, format_fen, format_time, format_time_ms
from paygate.sandbox.harness import ControlError

__all__ = ["OUTCOMES", "Payer", "trade_json"]

OUTCOMES: Final[tuple[BuyerAction, ...]] = ("pay", "scan", "fail", "cancel", "finish")
_TOKEN_PATH = re.compile(r"/(?:qr|cashier)/([A-Za-z0-9_\-]+)$")
_NOT_ISSUED_HINT = (
    "The sandbox knows no order {x!r}. Page/wap/app pay orders are signed by the merchant "
    "and reach Alipay only when the buyer brings them: pass the pay URL (page_execute(req, "
    "'GET'), or the gateway URL + the signed query) or the app pay order string instead."
)


def _refund_json(refund: Refund) -> dict[str, Any]:
    return {
        "out_request_no": refund.out_request_no,
        "refund_amount": format_fen(refund.amount),
        "status": refund.status.value,
        "gmt_refund": format_time_ms(refund.at),
    }


def trade_json(store: AlipayStore, trade: Trade) -> dict[str, Any]:
    def when(moment: Any) -> str | None:
        return format_time(moment) if moment else None

    exists = trade.state is not TradeState.ISSUED
    notes = store.harness.notifier.matching(app_id=trade.app_id, out_trade_no=trade.out_trade_no)
    return {
        "app_id": trade.app_id,
        "out_trade_no": trade.out_trade_no,
        "trade_no": trade.trade_no or None,
        "method": trade.method,
        "product_code": trade.product_code,
        "state": trade.state.value,
        "trade_status": trade.state.value if exists else None,
        "total_amount": format_fen(trade.total_amount),
        "refunded_amount": format_fen(trade.refunded_amount),
        "subject": trade.subject,
        "buyer_id": trade.buyer.user_id if trade.buyer else None,
        "buyer_logon_id": trade.buyer.masked_logon_id if trade.buyer else None,
        "gmt_create": when(trade.gmt_create),
        "gmt_payment": when(trade.gmt_payment),
        "gmt_close": when(trade.gmt_close),
        "pay_deadline": format_time(trade.deadline),
        "qr_code": store.qr_url(trade.token) if trade.method == "alipay.trade.precreate" else None,
        "cashier_url": store.cashier_url(trade.token),
        "notify_url": trade.notify_url or None,
        "payment_failures": list(trade.payment_failures),
        "refunds": [_refund_json(r) for r in trade.refunds],
        "notifications": [d.to_json() for d in notes],
    }


class Payer:
    """The Alipay side of the control API."""

    outcomes: tuple[str, ...] = OUTCOMES

    def __init__(self, store: AlipayStore) -> None:
        self._store = store

    def pay(self, trade: str, outcome: str, options: Mapping[str, Any]) -> dict[str, Any]:
        buyer_id = options.get("buyer_id") or None
        app_id = options.get("app_id") or None
        store = self._store
        token = self._resolve(trade, app_id, buyer_id)
        try:
            action = cast(BuyerAction, outcome)  # one of OUTCOMES: the harness checked it
            found, events = store.book.act(token, action, store.buyer(buyer_id), rebind=bool(buyer_id))
        except AlipayError as error:
            current = store.book.by_token(token)
            extra = {"trade": trade_json(store, current)} if current else None
            raise ControlError(409, error.sub_code, error.sub_msg, extra) from None
        store.publish(events)
        return trade_json(store, found)

    def trades(self) -> list[dict[str, Any]]:
        return [trade_json(self._store, t) for t in self._store.book.all()]

    def trade(self, ref: str, scope: Mapping[str, str]) -> dict[str, Any]:
        return trade_json(self._store, self._find(ref, scope.get("app_id")))

    def refund(self, ref: str, scope: Mapping[str, str]) -> dict[str, Any]:
        trade, refund = self._find_refund(ref, scope)
        return {**_refund_json(refund), "out_trade_no": trade.out_trade_no, "app_id": trade.app_id}

    def settle_refund(self, ref: str, outcome: str, scope: Mapping[str, Any]) -> dict[str, Any]:
        if outcome not in REFUND_OUTCOMES:
            raise ControlError(400, "bad_outcome", f"outcome must be one of {', '.join(REFUND_OUTCOMES)}")
        trade, _ = self._find_refund(ref, scope)
        try:
            settle(self._store, trade.app_id, trade.out_trade_no, ref, outcome == "REFUND_SUCCESS")
        except IllegalTransition as exc:
            raise ControlError(409, "REFUND_FINAL", str(exc)) from None
        return self.refund(ref, {"out_trade_no": trade.out_trade_no, "app_id": trade.app_id})

    def clock_moved(self) -> None:
        self._store.sweep()

    # -- finding what the control API names -------------------------------------------------

    def _find(self, ref: str, app_id: str | None) -> Trade:
        found = self._store.book.find(ref, app_id)
        if not found and (by_no := self._store.book.by_trade_no(ref)) is not None:
            found = [by_no]
        if not found:
            raise ControlError(404, "unknown_trade", _NOT_ISSUED_HINT.format(x=ref))
        if len(found) > 1:
            raise ControlError(409, "ambiguous_trade", f"{ref!r} exists for several apps: pass app_id")
        return found[0]

    def _find_refund(self, ref: str, scope: Mapping[str, Any]) -> tuple[Trade, Refund]:
        matches = [
            (t, r)
            for t in self._store.book.all()
            for r in t.refunds
            if r.out_request_no == ref
            and scope.get("out_trade_no") in (None, t.out_trade_no)
            and scope.get("app_id") in (None, t.app_id)
        ]
        if not matches:
            raise ControlError(404, "unknown_refund", f"no refund {ref!r}")
        if len(matches) > 1:
            raise ControlError(
                409, "ambiguous_refund", f"{ref!r} exists for several trades: pass out_trade_no"
            )
        return matches[0]

    def _open_signed(self, query: str, buyer_id: str | None) -> str:
        wire = decode_request(query.encode("utf-8"), b"")
        try:
            call = authenticate(wire, self._store.merchants)
        except AlipayError as error:
            raise ControlError(400, error.sub_code, error.sub_msg) from None
        if call.method not in CLIENT_METHODS:
            raise ControlError(400, "not_a_client_order", f"{call.method} is not a page/wap/app pay order")
        try:
            return open_client_order(self._store, call, buyer_id).token
        except AlipayError as error:
            raise ControlError(409, error.sub_code, error.sub_msg) from None

    def _resolve(self, target: str, app_id: str | None, buyer_id: str | None) -> str:
        text = target.strip()
        if text.startswith(("http://", "https://")):
            parts = urlsplit(text)
            if match := _TOKEN_PATH.search(parts.path):
                if self._store.book.by_token(match.group(1)) is None:
                    raise ControlError(404, "unknown_trade", f"no QR code or cashier {text!r}")
                return match.group(1)
            if parts.query:
                return self._open_signed(parts.query, buyer_id)
            raise ControlError(400, "bad_trade", f"{text!r} is neither a QR code nor a pay URL")
        if "method=" in text and "sign=" in text:
            return self._open_signed(text, buyer_id)
        return self._find(text, app_id).token
