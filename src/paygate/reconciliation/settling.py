"""Settlement figures of a run (R-REC-4), per currency: what the channel states it settled
(the bill's own totals), what the bill's lines add up to, and what paygate computes over the
payments and refunds those lines matched. The settlement matches when all three agree;
otherwise the difference is in ``detail`` and the run's discrepancies say which trades.

Fees come from the lines (each matched line keeps its trade's fee), so a fee report over
``recon_lines`` adds up to the fees settled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from paygate.channels.contract import BillTotals, ChannelAccount, PayoutReport
from paygate.domain.reconciliation import LineKind, LineStatus, SettlementState
from paygate.kit.clock import utc_now
from paygate.models import Settlement
from paygate.repositories import UnitOfWork

__all__ = ["settle", "settle_payouts"]


async def settle(
    uow: UnitOfWork,
    account: ChannelAccount,
    run_id: int,
    bill_date: date,
    stated: BillTotals | None,
    line_totals: Sequence[tuple[str, str, str, int, int, int]],
) -> list[Settlement]:
    """``line_totals``: the run's lines per currency, kind and status, as
    ``line_totals(run_id)`` gives them (read once, shared with the run's counts)."""
    repo = uow.reconciliation
    bill: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for currency, kind, status, n, amount, fees in line_totals:
        figures = bill[currency]
        if kind == LineKind.PAYMENT.value:
            figures["payments"] += amount
            figures["payment_count"] += n
            figures["fees"] += fees
        elif kind == LineKind.REFUND.value:
            figures["refunds"] += amount
            figures["refund_count"] += n
            figures["fees"] -= fees  # the fee a refund gives back
        if status == LineStatus.MATCHED.value:
            figures[f"matched_{kind}"] += amount
    ours: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for currency, kind, amount in await repo.paygate_totals(run_id):
        ours[currency][kind] += amount
    rows = []
    for currency, figures in sorted(bill.items()):
        problems = []
        use_stated = stated is not None and len(bill) == 1
        if use_stated and stated is not None:
            if (stated.payments, stated.refunds) != (figures["payments"], figures["refunds"]):
                problems.append(
                    f"stated {stated.payments}/{stated.refunds}, "
                    f"lines {figures['payments']}/{figures['refunds']}"
                )
        mine = ours[currency]
        if (mine["payment"], mine["refund"]) != (figures["payments"], figures["refunds"]):
            problems.append(
                f"paygate counts {mine['payment']} paid and {mine['refund']} refunded, the bill "
                f"{figures['payments']} and {figures['refunds']}"
            )
        stated_fees = stated.fees if use_stated and stated is not None else None
        row = Settlement(
            run_id=run_id,
            channel=account.channel,
            channel_account_id=account.id,
            settle_date=bill_date,
            reference=f"bill:{bill_date.isoformat()}:{currency}",
            currency=currency,
            stated_payments=stated.payments if use_stated and stated is not None else None,
            stated_refunds=stated.refunds if use_stated and stated is not None else None,
            stated_fees=stated_fees,
            stated_net=(
                stated.payments - stated.refunds - stated_fees
                if use_stated and stated is not None and stated_fees is not None
                else None
            ),
            bill_payments=figures["payments"],
            bill_refunds=figures["refunds"],
            bill_fees=figures["fees"],
            paygate_payments=mine["payment"],
            paygate_refunds=mine["refund"],
            payment_count=figures["payment_count"],
            refund_count=figures["refund_count"],
            state=SettlementState.MISMATCH if problems else SettlementState.MATCHED,
            detail="; ".join(problems)[:512],
            created_at=utc_now(),
        )
        repo.add_settlement(row)
        rows.append(row)
    return rows


async def settle_payouts(
    uow: UnitOfWork, account: ChannelAccount, run_id: int, day: date, payouts: Sequence[PayoutReport]
) -> list[Settlement]:
    """A payout (Stripe) against its own movements and paygate (R-REC-4): the amount that
    reached the bank plus the fees must be what its movements add up to; then
    per trade, each payment and refund in it must be one paygate reconciled (a matched line,
    of this bill or an earlier one) for the same amount."""
    repo = uow.reconciliation
    rows = []
    for payout in payouts:
        payments = [i for i in payout.items if i.kind == "payment"]
        refunds = [i for i in payout.items if i.kind == "refund"]
        paid = sum(i.amount for i in payments)
        refunded = -sum(i.amount for i in refunds)
        fees = sum(i.fee for i in payout.items)
        net = sum(i.net for i in payout.items)
        ours = await repo.reconciled_in(
            account.id, [i.channel_trade_no for i in payments], [i.refund_no for i in refunds if i.refund_no]
        )
        problems = []
        if net != payout.amount:
            problems.append(f"the payout is {payout.amount}; its movements net {net}")
        if (ours.paid_count, ours.refund_count) != (len(payments), len(refunds)):
            problems.append(
                f"{len(payments) - ours.paid_count} payments and {len(refunds) - ours.refund_count} refunds "
                "of the payout are not reconciled trades"
            )
        if (ours.paid, ours.refunded) != (paid, refunded):
            problems.append(
                f"paygate counts {ours.paid} paid and {ours.refunded} refunded; "
                f"the payout {paid} and {refunded}"
            )
        row = Settlement(
            run_id=run_id,
            channel=account.channel,
            channel_account_id=account.id,
            settle_date=day,
            reference=payout.payout_id,
            currency=payout.currency,
            stated_payments=paid,
            stated_refunds=refunded,
            stated_fees=fees,
            stated_net=payout.amount,
            bill_payments=paid,
            bill_refunds=refunded,
            bill_fees=fees,
            paygate_payments=ours.paid,
            paygate_refunds=ours.refunded,
            payment_count=len(payments),
            refund_count=len(refunds),
            state=SettlementState.MISMATCH if problems else SettlementState.MATCHED,
            detail="; ".join(problems)[:512],
            created_at=utc_now(),
        )
        repo.add_settlement(row)
        rows.append(row)
    return rows
