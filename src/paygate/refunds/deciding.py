"""What operators decide about refunds (R-REF-3, R-REF-5, R-SEC-5).

- **Approve / reject** a refund held in approval. Four eyes: the operator who requested a
  refund cannot decide it. Approved refunds go to the channel; rejected ones end, their
  amount is released and the app is told (``refund.rejected``).
- **Manual payout**: a refund the channel could not take (it FAILED, e.g. past the channel's
  refund window) is replaced by a refund paid out by hand — the amount reserved again, the
  refund AWAITING_PAYOUT — and an operator records the payout (its reference) when done.

Who decided, when and why is on the refund and in the audit record; refused attempts too.
"""

from __future__ import annotations

from paygate.domain.operators import Permission
from paygate.domain.refunds import RefundEvent, RefundKind, RefundRoute, RefundState
from paygate.kit.clock import utc_now
from paygate.kit.errors import ConflictError, ErrorCode, NotFoundError, PaygateError, RequestError
from paygate.kit.ids import new_refund_no
from paygate.models import Refund
from paygate.operators.directory import OperatorDirectory, OperatorIdentity
from paygate.payments.after_commit import AfterCommit
from paygate.payments.state_changes import Source
from paygate.refunds.sending import RefundSender
from paygate.refunds.state_changes import RefundFacts, record_refund_event, refund_log
from paygate.refunds.views import RefundView, refund_view
from paygate.repositories import Database, UnitOfWork

__all__ = ["RefundDecisions"]


class RefundDecisions:
    def __init__(
        self, db: Database, sender: RefundSender, operators: OperatorDirectory, after_commit: AfterCommit
    ) -> None:
        self._db = db
        self._sender = sender
        self._operators = operators
        self._after_commit = after_commit

    async def approve(self, who: OperatorIdentity, refund_no: str, reason: str) -> RefundView:
        await self._decide(who, refund_no, reason, RefundEvent.APPROVED)
        sent, _error = await self._sender.send(refund_no)  # a channel failure is on the refund
        return sent

    async def reject(self, who: OperatorIdentity, refund_no: str, reason: str) -> RefundView:
        return await self._decide(who, refund_no, reason, RefundEvent.DECLINED)

    async def _decide(
        self, who: OperatorIdentity, refund_no: str, reason: str, event: RefundEvent
    ) -> RefundView:
        action = "refund.approve" if event is RefundEvent.APPROVED else "refund.reject"
        try:
            self._require(who, Permission.DECIDE_REFUNDS)
            reason = _reason(reason)

            async def unit(uow: UnitOfWork) -> RefundView:
                refund = await self._load(uow, refund_no)
                if refund.state is not RefundState.PENDING_APPROVAL:
                    raise ConflictError(
                        f"the refund is {refund.state}, not waiting for approval",
                        code=ErrorCode.REFUND_ILLEGAL_STATE,
                        details={"state": refund.state.value},
                    )
                if refund.requested_by == who.actor:
                    raise ConflictError(
                        code=ErrorCode.FOUR_EYES, details={"requested_by": refund.requested_by}
                    )
                refund.decided_by, refund.decided_at, refund.decision_reason = who.actor, utc_now(), reason
                await record_refund_event(
                    uow,
                    refund,
                    event,
                    source=Source.OPERATOR,
                    exchange={"operator": who.name, "reason": reason},
                )
                trade = await uow.trades.by_id(refund.trade_id)
                assert trade is not None
                return refund_view(refund, trade)

            view = await self._db.run(unit)
        except PaygateError as exc:
            await self._operators.audit(who, action, refund_no, refused=True, error=exc.code.name)
            raise
        await self._operators.audit(who, action, refund_no, reason=reason)
        await self._after_commit.refund_saved(view, state_changed=True)
        return view

    async def manual_payout(self, who: OperatorIdentity, refund_no: str, reason: str) -> RefundView:
        """Replace a refund the channel could not take with one paid out by hand."""
        try:
            self._require(who, Permission.DECIDE_REFUNDS)
            reason = _reason(reason)

            async def unit(uow: UnitOfWork) -> RefundView | None:
                failed = await self._load(uow, refund_no)
                if failed.state is not RefundState.FAILED:
                    raise ConflictError(
                        f"only a failed refund can be paid out by hand; this one is {failed.state}",
                        code=ErrorCode.REFUND_ILLEGAL_STATE,
                        details={"state": failed.state.value},
                    )
                trade = await uow.trades.by_id(failed.trade_id)
                assert trade is not None
                business = failed.kind is RefundKind.BUSINESS  # system refunds are their own cap
                if business and not await uow.trades.reserve_refund(trade, failed.amount):
                    raise ConflictError(
                        "the amount exceeds what is left to refund",
                        code=ErrorCode.REFUND_EXCEEDS_REMAINDER,
                        details={"trade_no": trade.trade_no},
                    )
                now = utc_now()
                manual = Refund(
                    refund_no=new_refund_no(),
                    trade_id=failed.trade_id,
                    app_id=failed.app_id,
                    out_refund_no=f"M-{failed.refund_no}",
                    amount=failed.amount,
                    currency=failed.currency,
                    reason=failed.reason,
                    kind=failed.kind,
                    route=RefundRoute.MANUAL,
                    state=RefundState.AWAITING_PAYOUT,
                    channel=failed.channel,
                    channel_account_id=failed.channel_account_id,
                    attempt_no=failed.attempt_no,
                    payment_channel_trade_no=failed.payment_channel_trade_no,
                    fingerprint=failed.fingerprint,
                    notify_url=failed.notify_url,
                    requested_by=who.actor,
                    decision_reason=reason,
                    replaces_refund_no=failed.refund_no,
                    created_at=now,
                )
                exchange = {"operator": who.name, "reason": reason, "replaces": failed.refund_no}
                logs = [
                    refund_log(None, "manual_payout", Source.OPERATOR, exchange, now, initial=manual.state)
                ]
                if not await uow.refunds.insert(manual, logs):
                    return None
                return refund_view(manual, trade)

            view = await self._db.run(unit)
            if view is None:
                raise ConflictError(
                    "a manual payout for this refund exists", code=ErrorCode.REFUND_ILLEGAL_STATE
                )
        except PaygateError as exc:
            await self._operators.audit(
                who, "refund.manual_payout", refund_no, refused=True, error=exc.code.name
            )
            raise
        await self._operators.audit(
            who, "refund.manual_payout", refund_no, reason=reason, manual=view["refund_no"]
        )
        await self._after_commit.refund_saved(view, state_changed=True)
        return view

    async def record_payout(self, who: OperatorIdentity, refund_no: str, reference: str) -> RefundView:
        """The money was paid out by hand: the refund succeeds, with the payout's reference."""
        try:
            self._require(who, Permission.DECIDE_REFUNDS)
            reference = _reason(reference, what="the payout reference")

            async def unit(uow: UnitOfWork) -> RefundView:
                refund = await self._load(uow, refund_no)
                if refund.state is not RefundState.AWAITING_PAYOUT:
                    raise ConflictError(
                        f"the refund is {refund.state}, not awaiting a payout",
                        code=ErrorCode.REFUND_ILLEGAL_STATE,
                        details={"state": refund.state.value},
                    )
                refund.payout_reference = reference[:128]
                refund.decided_by, refund.decided_at = who.actor, utc_now()
                await record_refund_event(
                    uow,
                    refund,
                    RefundEvent.PAID_OUT,
                    source=Source.OPERATOR,
                    exchange={"operator": who.name, "reference": reference},
                    facts=RefundFacts(channel_status="paid out by hand"),
                )
                trade = await uow.trades.by_id(refund.trade_id)
                assert trade is not None
                return refund_view(refund, trade)

            view = await self._db.run(unit)
        except PaygateError as exc:
            await self._operators.audit(who, "refund.payout", refund_no, refused=True, error=exc.code.name)
            raise
        await self._operators.audit(who, "refund.payout", refund_no, reference=reference)
        await self._after_commit.refund_saved(view, state_changed=True)
        return view

    @staticmethod
    def _require(who: OperatorIdentity, permission: Permission) -> None:
        if not who.may(permission):
            raise PaygateError(
                f"the role {who.role} may not decide refunds", code=ErrorCode.OPERATOR_FORBIDDEN
            )

    @staticmethod
    async def _load(uow: UnitOfWork, refund_no: str) -> Refund:
        refund = await uow.refunds.by_no(refund_no)
        if refund is None:
            raise NotFoundError(code=ErrorCode.REFUND_NOT_FOUND)
        return refund


def _reason(text: str, *, what: str = "a reason") -> str:
    text = (text or "").strip()
    if not text or len(text) > 256:
        raise RequestError(f"give {what} (1-256 characters)")
    return text
