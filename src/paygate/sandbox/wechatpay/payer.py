"""The payer, and what the control API shows of WeChat Pay's orders and refunds (the
harness serves the routes; this is the WeChat side of
:class:`paygate.sandbox.harness.Controls`).

``POST /_sandbox/pay`` ``{"trade": X, "outcome": "pay"|"fail"|"cancel"|"revoke"|
"userpaying", "mchid"?, "openid"?, "bank_type"?}`` — X is an out_trade_no, a prepay_id, or
a ``code_url``/``h5_url`` the sandbox issued. ``GET /_sandbox/trades/{out_trade_no}`` and
``/_sandbox/refunds/{out_refund_no}`` take ``?mchid=`` when several merchants use the
number; ``POST /_sandbox/refunds/{out_refund_no}`` ``{"outcome": "SUCCESS"|"ABNORMAL"|
"CLOSED"}`` settles a refund by hand.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from paygate.sandbox.harness import ControlError

from .resources.refunds import REFUND_OUTCOMES, settle
from .resources.transactions import OUTCOMES, TradeExpired, apply_outcome, code_url
from .state import InvalidTransition, Refund, Trade, rfc3339
from .store import WechatStore

__all__ = ["Payer", "refund_view", "resolve_refund", "resolve_trade", "trade_view"]


def resolve_trade(store: WechatStore, ref: str, mchid: str | None = None) -> Trade:
    """A trade by out_trade_no, prepay_id, or an issued code_url / h5_url."""
    trade: Trade | None = None
    if ref.startswith(("http://", "https://")):
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(ref).query))
        if "pr" in query:
            trade = store.by_token.get(query["pr"])
        elif "prepay_id" in query:
            trade = store.by_prepay_id.get(query["prepay_id"])
    elif ref in store.by_prepay_id:
        trade = store.by_prepay_id[ref]
    else:
        matches = [t for t in store.trades_by_out_trade_no(ref) if mchid is None or t.mchid == mchid]
        if len(matches) > 1:
            raise ControlError(409, "ambiguous_trade", f"{ref!r} exists for several merchants: pass mchid")
        trade = matches[0] if matches else None
    if trade is None or (mchid is not None and trade.mchid != mchid):
        raise ControlError(404, "unknown_trade", f"the sandbox issued no order {ref!r}")
    return trade


def resolve_refund(store: WechatStore, out_refund_no: str, mchid: str | None = None) -> Refund:
    matches = [r for r in store.refunds_by_out_refund_no(out_refund_no) if mchid in (None, r.trade.mchid)]
    if len(matches) > 1:
        raise ControlError(409, "ambiguous_refund", f"{out_refund_no!r} exists for several merchants")
    if not matches:
        raise ControlError(404, "unknown_refund", f"no refund {out_refund_no!r}")
    return matches[0]


def refund_view(refund: Refund) -> dict[str, Any]:
    return {**refund.to_wire(), "notify_url": refund.notify_url, "reason": refund.reason}


def trade_view(store: WechatStore, trade: Trade) -> dict[str, Any]:
    view = trade.to_wire()
    notes = store.harness.notifier.matching(mchid=trade.mchid, out_trade_no=trade.out_trade_no)
    view.update(
        trade_type=trade.trade_type,
        description=trade.description,
        notify_url=trade.notify_url,
        create_time=rfc3339(trade.created_at),
        time_expire=None if trade.time_expire is None else rfc3339(trade.time_expire),
        prepay_id=trade.prepay_id,
        cashier_url=(
            code_url(store, trade)
            if trade.trade_type == "NATIVE"
            else f"{store.base_url}/checkmweb?prepay_id={trade.prepay_id}"
        ),
        refunds=[refund_view(r) for r in trade.refunds],
        notifications=[d.to_json() for d in notes],
    )
    return view


class Payer:
    """The WeChat Pay side of the control API."""

    outcomes: tuple[str, ...] = tuple(OUTCOMES)

    def __init__(self, store: WechatStore) -> None:
        self._store = store

    def pay(self, trade: str, outcome: str, options: Mapping[str, Any]) -> dict[str, Any]:
        found = resolve_trade(self._store, trade, options.get("mchid"))
        try:
            apply_outcome(
                self._store, found, outcome, openid=options.get("openid"), bank_type=options.get("bank_type")
            )
        except InvalidTransition as exc:
            code = "ORDERPAID" if exc.current in ("SUCCESS", "REFUND") else "ORDER_CLOSED"
            raise ControlError(409, code, str(exc), {"trade": trade_view(self._store, found)}) from None
        except TradeExpired as exc:
            raise ControlError(
                409, "ORDER_EXPIRED", str(exc), {"trade": trade_view(self._store, found)}
            ) from None
        return trade_view(self._store, found)

    def trades(self) -> list[dict[str, Any]]:
        return [trade_view(self._store, t) for t in self._store.trades.values()]

    def trade(self, ref: str, scope: Mapping[str, str]) -> dict[str, Any]:
        return trade_view(self._store, resolve_trade(self._store, ref, scope.get("mchid")))

    def refund(self, ref: str, scope: Mapping[str, str]) -> dict[str, Any]:
        return refund_view(resolve_refund(self._store, ref, scope.get("mchid")))

    def settle_refund(self, ref: str, outcome: str, scope: Mapping[str, Any]) -> dict[str, Any]:
        outcome = outcome.upper()
        if outcome not in REFUND_OUTCOMES:
            raise ControlError(400, "bad_outcome", f"outcome must be one of {', '.join(REFUND_OUTCOMES)}")
        refund = resolve_refund(self._store, ref, scope.get("mchid"))
        try:
            return refund_view(settle(self._store, refund, outcome))
        except InvalidTransition as exc:
            raise ControlError(409, "REFUND_FINAL", str(exc)) from None

    def clock_moved(self) -> None:
        """Nothing to do: WeChat closes no order by itself when it expires."""
