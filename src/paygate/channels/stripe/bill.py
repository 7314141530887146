"""A day's bill from Stripe's balance transactions (``GET /v1/balance_transactions`` with
``expand[]=data.source``).

Stripe has no bill file: every movement of the balance is a balance transaction, listed
newest first. Trade lines come from these ``type`` values::

    charge, payment          kind "payment"         source: the charge
    refund, payment_refund   kind "refund"          source: the refund
    refund_failure           kind "refund_failure"  source: the refund that failed (its money
                                                    came back to the balance)

``amount`` is what the payer saw (the charge's or refund's own amount and currency: the one
paygate recorded), ``fee`` Stripe's fee in the settlement currency, and ``raw`` the balance
transaction's own figures (settlement amount, net, exchange rate). Types that are not
trades (payouts, Stripe fees, adjustments, transfers …) are skipped; a type Stripe has not
documented raises UnknownChannelStatus, since it might be money paygate would miss.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from paygate.channels.contract import BillLine, UnknownChannelStatus
from paygate.channels.stripe.amounts import from_stripe_amount
from paygate.channels.stripe.transformers import ResponseMismatch, stripe_money, timestamp
from paygate.kit.money import Money, MoneyError

__all__ = ["NON_TRADE_TYPES", "TRADE_TYPES", "bill_line"]

#: balance transaction type → (BillLine.kind, the source object's type)
TRADE_TYPES: Final[Mapping[str, tuple[str, str]]] = {
    "charge": ("payment", "charge"),
    "payment": ("payment", "charge"),
    "refund": ("refund", "refund"),
    "payment_refund": ("refund", "refund"),
    "refund_failure": ("refund_failure", "refund"),
}
#: Documented balance transaction types that are not trades of paygate's.
NON_TRADE_TYPES: Final = frozenset(
    """adjustment advance advance_funding anticipation_repayment application_fee
    application_fee_refund climate_order_purchase climate_order_refund
    connect_collection_transfer contribution issuing_authorization_hold
    issuing_authorization_release issuing_dispute issuing_transaction obligation_outbound
    obligation_reversal_inbound payment_failure_refund payment_network_reserve_hold
    payment_network_reserve_release payment_reversal payment_unreconciled payout
    payout_cancel payout_failure payout_minimum_balance_hold payout_minimum_balance_release
    reserve_transaction reserved_funds stripe_fee stripe_fx_fee tax_fee topup
    topup_reversal transfer transfer_cancel transfer_failure transfer_refund""".split()
)


def _fee(bt: Mapping[str, Any]) -> Money | None:
    """The fee in the settlement currency, or None when it is not exact in ISO units
    (e.g. a fractional ISK fee): ``raw`` keeps Stripe's figure."""
    try:
        return from_stripe_amount(bt.get("fee"), bt.get("currency"))
    except MoneyError:
        return None


def bill_line(bt: Mapping[str, Any]) -> BillLine | None:
    """One balance transaction → a bill line, or None for a non-trade type."""
    kind_word = bt.get("type")
    if not isinstance(kind_word, str):
        raise ResponseMismatch(f"balance transaction {bt.get('id')!r} has no type")
    if kind_word in NON_TRADE_TYPES:
        return None
    if kind_word not in TRADE_TYPES:
        raise UnknownChannelStatus(f"unknown stripe balance transaction type {kind_word!r}", code=kind_word)
    kind, source_type = TRADE_TYPES[kind_word]
    source = bt.get("source")
    if not isinstance(source, Mapping) or source.get("object") != source_type:
        raise ResponseMismatch(
            f"balance transaction {bt.get('id')!r}: source is not an expanded {source_type}"
        )
    found = source.get("metadata")
    metadata: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    field = "amount_captured" if source_type == "charge" and source.get("amount_captured") else "amount"
    occurred_at = timestamp(bt.get("created"))
    if occurred_at is None:
        raise ResponseMismatch(f"balance transaction {bt.get('id')!r} has no created time")
    intent = source.get("payment_intent")
    raw = {
        name: str(bt.get(name))
        for name in ("id", "type", "amount", "fee", "net", "currency", "status", "exchange_rate")
    }
    raw["source"] = str(source.get("id"))
    return BillLine(
        channel_trade_no=intent if isinstance(intent, str) else "",
        attempt_no=str(metadata.get("attempt_no") or ""),
        kind=kind,
        amount=stripe_money(source, field),
        fee=_fee(bt),
        occurred_at=occurred_at,
        refund_no=str(metadata["refund_no"])
        if source_type == "refund" and metadata.get("refund_no")
        else None,
        raw=raw,
    )
