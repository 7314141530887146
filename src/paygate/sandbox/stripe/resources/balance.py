"""Settlement data through the API: ``GET /v1/balance``, ``GET /v1/balance_transactions
[/{id}]`` (``payout``, ``type``, ``source``, ``currency`` filters) and ``GET /v1/payouts
[/{id}]``. The objects themselves are in :mod:`..bills`; payouts are made in
:mod:`.payouts`.

Balance transactions and payouts are served as the ``bills`` faults in force show them
(:func:`..bills.served_transactions`, reconciliation tests); ``GET /v1/balance`` and the
objects they come from (charges, refunds) are what really happened."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..bills import (
    BalanceTransaction,
    Payout,
    ServedTransaction,
    balance_wire,
    rank,
    served_payout,
    served_transactions,
    shifted_source,
)
from ..errors import resource_missing
from ..params import Params
from ..store import PAGING, Account, list_response

__all__ = [
    "bill_view",
    "get_balance",
    "list_balance_transactions",
    "list_payouts",
    "payout_wire",
    "retrieve_balance_transaction",
    "retrieve_payout",
]


def bill_view(account: Account) -> list[BalanceTransaction]:
    """Every balance transaction as served (bill faults applied), newest first."""
    return served_transactions(
        account.store.all(BalanceTransaction),
        account.harness.faults.bills(),
        lambda bt: _reference(account, bt),
    )


def payout_wire(account: Account, payout: Payout) -> dict[str, Any]:
    """A payout as served: what its balance transactions net to as the bill faults show them."""
    return served_payout(payout, bill_view(account)).to_wire()


def retrieve_balance_transaction(account: Account, params: Params, ident: str) -> dict[str, Any]:
    params.check(())
    view = {bt.id: bt for bt in bill_view(account)}
    found = view.get(ident)
    if found is None:
        raise resource_missing("balance_transaction", ident, "id")
    wire = found.to_wire()
    _shift_sources(account, [wire], view, params.expand(), "source")
    return wire


def retrieve_payout(account: Account, params: Params, ident: str) -> dict[str, Any]:
    params.check(())
    found = account.store.typed(ident, Payout)
    if found is None:
        raise resource_missing("payout", ident, "id")
    return served_payout(found, bill_view(account)).to_wire()


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
    served = bill_view(account)  # reconciliation tests: the bills faults in force
    view = {bt.id: bt for bt in served}
    items = [
        bt
        for bt in served
        if (payout is None or bt.payout_id == payout)
        and (kind is None or bt.type == kind)
        and (source is None or bt.source == source)
        and (currency is None or bt.currency == currency.lower())
    ]
    listed = list_response(
        account.store,
        params,
        "/v1/balance_transactions",
        items,
        "balance_transaction",
        rank=rank,
        find=lambda ident: view.get(ident) or account.store.get(ident),
    )
    _shift_sources(account, listed["data"], view, params.expand(), "data.source")
    return listed


def _shift_sources(
    account: Account,
    wires: Iterable[dict[str, Any]],
    view: Mapping[str, BalanceTransaction],
    expand: Sequence[str],
    path: str,
) -> None:
    """Where ``expand`` asks for the source (``path`` or deeper), a movement whose amount a
    fault shifted shows its source shifted alike (``expand`` then goes on from there)."""
    if not any(p == path or p.startswith(path + ".") for p in expand):
        return
    for wire in wires:
        bt = view.get(wire["id"])
        if not isinstance(bt, ServedTransaction) or not bt.source_delta:
            continue
        record = account.store.get(bt.source)
        if record is not None:
            wire["source"] = shifted_source(record.to_wire(), bt.source_delta)


def _reference(account: Account, bt: BalanceTransaction) -> str:
    """The merchant's reference of a movement: its charge's ``attempt_no`` or its refund's
    ``refund_no`` (metadata), as the ``bills`` faults name lines."""
    record = account.store.get(bt.source)
    metadata = getattr(record, "metadata", None) or {}
    return str(metadata.get("refund_no") or metadata.get("attempt_no") or "")


def list_payouts(account: Account, params: Params) -> dict[str, Any]:
    params.check(PAGING | {"status", "arrival_date"}, stripe_only={"destination"})
    status = params.choice("status", ("pending", "paid", "failed", "canceled"))
    served = bill_view(account)
    items = [
        served_payout(p, served) for p in account.store.all(Payout) if status is None or p.status == status
    ]
    return list_response(account.store, params, "/v1/payouts", items, "payout")
