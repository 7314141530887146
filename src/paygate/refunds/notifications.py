"""A verified refund notification, applied (R-REF-4, R-NTF-1): WeChat Pay's REFUND.SUCCESS /
REFUND.ABNORMAL / REFUND.CLOSED, Stripe's refund events, Alipay's refund notice. The same
checks as for payments — the refund exists, came through its own account, the amount is its
amount — then the refund state machine."""

from __future__ import annotations

from paygate.channels.contract import ChannelAccount, Notification
from paygate.kit.masking import mask
from paygate.models import Refund
from paygate.payments.state_changes import Source
from paygate.refunds.outcomes import REFUND_STATUS_EVENTS
from paygate.refunds.state_changes import RefundFacts, record_refund_event
from paygate.refunds.views import RefundView, refund_view
from paygate.repositories import UnitOfWork

__all__ = ["RefundNotificationMismatch", "apply_refund_notification", "refund_of"]


class RefundNotificationMismatch(Exception):
    """A verified refund notification that does not fit paygate's records."""


async def refund_of(uow: UnitOfWork, account: ChannelAccount, note: Notification) -> Refund:
    refund = await uow.refunds.by_no(note.refund_no) if note.refund_no else None
    if refund is None:
        raise RefundNotificationMismatch(f"no refund {note.refund_no!r}")
    if refund.channel_account_id != account.id or refund.channel != account.channel:
        raise RefundNotificationMismatch("the notification came through another account than the refund's")
    if note.amount is not None and (
        note.amount.minor != refund.amount or note.amount.currency != refund.currency
    ):
        raise RefundNotificationMismatch(
            f"amount {note.amount} is not the refund's {refund.currency} {refund.amount}"
        )
    return refund


async def apply_refund_notification(uow: UnitOfWork, refund: Refund, note: Notification) -> RefundView | None:
    """The refund's view when its state changed."""
    event = REFUND_STATUS_EVENTS[note.refund_status] if note.refund_status is not None else None
    if event is None:
        return None
    changed = await record_refund_event(
        uow,
        refund,
        event,
        source=Source.NOTIFY,
        exchange={"notification": mask(dict(note.payload)), "channel_status": note.channel_status},
        facts=RefundFacts(
            channel_status=note.channel_status,
            refunded_at=note.occurred_at,
            failure_reason=f"the channel reports the refund {note.channel_status or 'failed'}",
        ),
    )
    if not changed:
        return None
    trade = await uow.trades.by_id(refund.trade_id)
    assert trade is not None
    return refund_view(refund, trade)
