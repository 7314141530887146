"""Refunds paygate starts itself (R-PAY-5, R-PAY-6, R-REF-3): money that arrived beyond the
payment a trade kept — a payment after the trade was closed, or a second payment — goes back
along its own route, automatically, once.

The payment services record such a payment (an ``ExtraPayment`` row, in the same transaction
as the notification or query that revealed it); :meth:`SystemRefunds.run_once`, run by the
workers every second, gives each one a refund of its own (kind ``paid_after_close`` or
``repeat_payment``, ``requested_by: system``, never held for approval — the money was never
owed) and sends it. A crash between the two loses nothing: the next run finds the payment
still without its refund.
"""

from __future__ import annotations

import structlog

from paygate.domain.checks import next_check
from paygate.domain.refunds import RefundRoute, RefundState
from paygate.kit.clock import utc_now
from paygate.kit.ids import new_refund_no
from paygate.models import Refund
from paygate.payments.after_commit import AfterCommit
from paygate.payments.state_changes import Source
from paygate.refunds.sending import RefundSender
from paygate.refunds.state_changes import refund_log
from paygate.refunds.views import RefundView, refund_view
from paygate.repositories import Database, UnitOfWork

__all__ = ["SystemRefunds"]

log = structlog.get_logger("paygate.refunds")


class SystemRefunds:
    name = "refund-extra-payments"
    interval = 1.0

    def __init__(self, db: Database, sender: RefundSender, after_commit: AfterCommit) -> None:
        self._db = db
        self._sender = sender
        self._after_commit = after_commit

    async def run_once(self, limit: int = 50) -> int:
        """Refund every extra payment that has no refund yet; how many were started."""
        async with self._db.reading() as uow:
            pending = [e.id for e in await uow.trades.unrefunded_extra_payments(limit)]
        started = 0
        for extra_id in pending:
            view = await self._db.run(lambda uow, extra_id=extra_id: self._create(uow, extra_id))  # type: ignore[misc]
            if view is None:
                continue
            started += 1
            await self._after_commit.refund_saved(view, state_changed=True)
            _sent, error = await self._sender.send(view["refund_no"])
            if error is not None:  # recorded on the refund; compensation takes it from here
                log.warning("system_refund.not_settled", refund_no=view["refund_no"], error=error.code.name)
        return started

    async def _create(self, uow: UnitOfWork, extra_id: int) -> RefundView | None:
        extra = await uow.trades.extra_payment(extra_id)
        if extra is None or extra.refund_no is not None:
            return None  # another worker got there first
        trade = await uow.trades.by_id(extra.trade_id)
        assert trade is not None
        now = utc_now()
        refund = Refund(
            refund_no=new_refund_no(),
            trade_id=trade.id,
            app_id=trade.app_id,
            out_refund_no=f"SYS-{extra.id}",
            amount=extra.amount,
            currency=extra.currency,
            reason=f"{extra.kind.value.replace('_', ' ')}: returned automatically",
            kind=extra.kind,
            route=RefundRoute.ORIGINAL,
            state=RefundState.PROCESSING,
            channel=extra.channel,
            channel_account_id=extra.channel_account_id,
            attempt_no=extra.attempt_no,
            payment_channel_trade_no=extra.channel_trade_no,
            fingerprint="",
            notify_url=trade.notify_url,
            requested_by="system",
            created_at=now,
            next_check_at=next_check(now, 0),
        )
        exchange = {"extra_payment": extra.payment_key, "kind": extra.kind.value}
        logs = [refund_log(None, "requested", Source.SWEEP, exchange, now, initial=refund.state)]
        if not await uow.refunds.insert(refund, logs):
            return None
        extra.refund_no = refund.refund_no
        return refund_view(refund, trade)
