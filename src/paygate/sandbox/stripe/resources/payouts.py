"""Payouts: the control API sweeps the available balance to the bank, as an automatic
payout would. A payout is ``pending`` and becomes ``paid`` ``PAYOUT_ARRIVAL_SECONDS`` (one
day, times ``time_scale``) later; the transactions it paid out are listed by
``GET /v1/balance_transactions?payout=po_…``. Its events, like the API, show the payout as
served (:func:`.balance.payout_wire`: what its movements net to under the bill faults)."""

from __future__ import annotations

import functools

from ..bills import PAYOUT_ARRIVAL_SECONDS, BalanceTransaction, Payout
from ..store import ASYNC, Account
from ..wire import new_id
from .balance import payout_wire

__all__ = ["sweep"]


def sweep(account: Account, currency: str | None, include_pending: bool) -> list[Payout]:
    at = account.now()
    open_bts = [
        bt
        for bt in account.store.all(BalanceTransaction)
        if bt.payout_id is None and bt.type != "payout" and (currency is None or bt.currency == currency)
    ]
    if include_pending:
        for bt in open_bts:
            bt.available_on = min(bt.available_on, at)
    by_currency: dict[str, list[BalanceTransaction]] = {}
    for bt in open_bts:
        if bt.status(at) == "available":
            by_currency.setdefault(bt.currency, []).append(bt)
    created: list[Payout] = []
    for cur, items in sorted(by_currency.items()):
        amount = sum(bt.net for bt in items)
        if amount <= 0:
            continue
        payout_id = new_id("po")
        bt = account.book(
            amount=-amount,
            currency=cur,
            fee=0,
            type="payout",
            source=payout_id,
            description="STRIPE PAYOUT",
            settle=False,
        )
        payout = account.store.add(
            Payout(
                id=payout_id,
                created=at,
                amount=amount,
                currency=cur,
                arrival_date=at + int(PAYOUT_ARRIVAL_SECONDS * account.time_scale),
                balance_transaction=bt.id,
            )
        )
        for item in (*items, bt):
            item.payout_id = payout.id
        account.emit("payout.created", payout_wire(account, payout), ASYNC)
        account.later(PAYOUT_ARRIVAL_SECONDS, functools.partial(_arrive, account, payout))
        created.append(payout)
    return created


def _arrive(account: Account, payout: Payout) -> None:
    if payout.status != "pending":
        return
    payout.status = "paid"
    account.emit("payout.updated", payout_wire(account, payout), ASYNC, {"status": "pending"})
    account.emit("payout.paid", payout_wire(account, payout), ASYNC)
