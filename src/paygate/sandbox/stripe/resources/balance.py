"""Settlement data through the API: ``GET /v1/balance``, ``GET /v1/balance_transactions
[/{id}]`` (``payout``, ``type``, ``source``, ``currency`` filters) and ``GET /v1/payouts
[/{id}]``. The objects themselves are in :mod:`..bills`; payouts are made in
:mod:`.payouts`."""

from __future__ import annotations

from typing import Any

from ..bills import BalanceTransaction, Payout, balance_wire
from ..errors import resource_missing
from ..params import Params
from ..store import PAGING, Account, list_response

__all__ = [
    "get_balance",
    "list_balance_transactions",
    "list_payouts",
    "retrieve_balance_transaction",
    "retrieve_payout",
]


def retrieve_balance_transaction(account: Account, params: Params, ident: str) -> dict[str, Any]:
    params.check(())
    found = account.store.typed(ident, BalanceTransaction)
    if found is None:
        raise resource_missing("balance_transaction", ident, "id")
    return found.to_wire()


def retrieve_payout(account: Account, params: Params, ident: str) -> dict[str, Any]:
    params.check(())
    found = account.store.typed(ident, Payout)
    if found is None:
        raise resource_missing("payout", ident, "id")
    return found.to_wire()


def get_balance(account: Account, params: Params) -> dict[str, Any]:
    params.check(())
    return balance_wire(account.store.all(BalanceTransaction), account.now())


def list_balance_transactions(account: Account, params: Params) -> dict[str, Any]:
    params.check(PAGING | {"payout", "type", "source", "currency"})
    payout = params.string("payout")
    kind = params.string("type")
    source = params.string("source")
    currency = params.string("currency")
    if payout is not None:
        found = account.store.typed(payout, Payout)
        if found is None:
            raise resource_missing("payout", payout, "payout", status=400)
    dropped = account.harness.faults.bills().drop  # reconciliation tests: money left out
    items = [
        bt
        for bt in account.store.all(BalanceTransaction)
        if (not dropped or _reference(account, bt) not in dropped)
        and (payout is None or bt.payout_id == payout)
        and (kind is None or bt.type == kind)
        and (source is None or bt.source == source)
        and (currency is None or bt.currency == currency.lower())
    ]
    return list_response(account.store, params, "/v1/balance_transactions", items, "balance_transaction")


def _reference(account: Account, bt: BalanceTransaction) -> str:
    """The merchant's reference of a movement: its charge's ``attempt_no`` or its refund's
    ``refund_no`` (metadata), as the ``bills`` faults name lines."""
    record = account.store.get(bt.source)
    metadata = getattr(record, "metadata", None) or {}
    return str(metadata.get("refund_no") or metadata.get("attempt_no") or "")


def list_payouts(account: Account, params: Params) -> dict[str, Any]:
    params.check(PAGING | {"status", "arrival_date"}, stripe_only={"destination"})
    status = params.choice("status", ("pending", "paid", "failed", "canceled"))
    items = [p for p in account.store.all(Payout) if status is None or p.status == status]
    return list_response(account.store, params, "/v1/payouts", items, "payout")
