"""The generic inbound-notification flow (R-NTF-1, R-NTF-2, R-SEC-3).

One template for every channel: parse + verify (the adapter's hook) → claim it in the inbox
(unique per channel identity: a repeat is recognised and acknowledged) → find the trade →
check account, amount and currency → move the state machine → reply in the channel's exact
format. A notification that cannot be verified, or that does not match the trade, changes
nothing: it is kept in the inbox as *rejected*, counted, and answered with the channel's
failure reply (so a genuine one is re-sent).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import structlog

from paygate.accounts.channel_accounts import ChannelAccounts
from paygate.channels.contract import (
    ChannelAccount,
    ChannelError,
    Notification,
    NotificationKind,
    NotificationRejected,
    NotifyReply,
    PaymentStatus,
    RefundStatus,
)
from paygate.channels.gateway import ChannelGateway
from paygate.domain.inbox import InboxOutcome
from paygate.kit import metrics
from paygate.kit.clock import utc_now
from paygate.kit.masking import mask
from paygate.models import ChannelNotification, Trade
from paygate.payments.after_commit import AfterCommit
from paygate.payments.outcomes import STATUS_EVENTS
from paygate.payments.state_changes import Facts, Source, moves_plainly, record_event, record_move
from paygate.payments.trade_view import trade_view
from paygate.refunds.notifications import RefundNotificationMismatch, apply_refund_notification, refund_of
from paygate.repositories import Database, UnitOfWork

__all__ = ["ChannelNotifications"]

log = structlog.get_logger("paygate.callbacks")


def _claims_money(note: Notification) -> bool:
    if note.kind is NotificationKind.PAYMENT:
        return note.payment_status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)
    return note.kind is NotificationKind.REFUND and note.refund_status is RefundStatus.SUCCEEDED


class _Mismatch(Exception):
    """A verified notification that does not fit paygate's records: it changes nothing."""


class ChannelNotifications:
    def __init__(
        self, db: Database, accounts: ChannelAccounts, gateway: ChannelGateway, after_commit: AfterCommit
    ) -> None:
        self._db = db
        self._accounts = accounts
        self._gateway = gateway
        self._after_commit = after_commit

    async def handle(
        self, channel: str, account_id: int, headers: Mapping[str, str], body: bytes
    ) -> NotifyReply:
        account = await self._accounts.get(account_id)
        if account is None or account.channel != channel:
            await self._reject(channel, None, "unknown channel account", {"account_id": account_id})
            return self._gateway.notify_reply(channel, False)
        try:
            note = self._gateway.parse_notification(account, headers, body)
        except NotificationRejected as exc:
            await self._reject(channel, account_id, exc.reason, exc.payload)
            return self._gateway.notify_reply(channel, False)
        if self._gateway.confirms_notifications(channel) and _claims_money(note):
            try:
                note = await self._confirm(account, note)
            except ChannelError as exc:  # cannot confirm now: the channel will send it again
                log.warning("notification.unconfirmed", channel=channel, error=type(exc).__name__)
                return self._gateway.notify_reply(channel, False)
        try:
            changed = await self._moved_at_once(account, note)
            if changed is None:
                changed = await self._db.run(lambda uow: self._process(uow, account, note))
        except (_Mismatch, RefundNotificationMismatch) as exc:
            await self._reject(channel, account_id, str(exc), note.payload)
            return self._gateway.notify_reply(channel, False)
        if changed is not None:  # committed: cache and after_pay / after_refund hooks
            kind, view = changed
            if kind is NotificationKind.REFUND:
                await self._after_commit.refund_saved(view, state_changed=True)
            else:
                await self._after_commit.trade_saved(view, state_changed=True)
        return self._gateway.notify_reply(channel, True)

    async def _moved_at_once(
        self, account: ChannelAccount, note: Notification
    ) -> tuple[NotificationKind, dict[str, Any]] | None:
        """The common case — a first notification that moves its trade to another state — in
        two round trips on PostgreSQL: the trade read on its own, then its claim in the inbox,
        the state change, its log row and its event written by one statement under the
        trade's version check (``record_move``). None when the case is not that plain (a
        repeat, a refund, a mismatch, a second payment, a refused event …) or when the write
        lost a race: then :meth:`_process` decides in a transaction, on fresh data."""
        if note.kind is not NotificationKind.PAYMENT or not note.attempt_no or note.payment_status is None:
            return None
        event = STATUS_EVENTS[note.payment_status]
        if event is None:
            return None
        async with self._db.single_statement() as uow:
            found = await uow.trades.by_attempt(note.attempt_no)
        if found is None:
            return None
        trade, attempt = found
        facts = self._facts(note)
        if (
            attempt.channel_account_id != account.id
            or attempt.channel != account.channel
            or not self._amount_matches(trade, note)
            or not moves_plainly(trade, event, facts)
        ):
            return None
        payload = mask(dict(note.payload))  # once: the inbox row and the log row keep the same
        row = self._inbox_row(account, note, payload)
        row.trade_id = trade.id
        async with self._db.single_statement() as uow:
            moved = await record_move(
                uow,
                trade,
                event,
                source=Source.NOTIFY,
                exchange=self._exchange(note, payload),
                facts=facts,
                also=[row],
            )
        if not moved:
            return None
        metrics.NOTIFICATIONS.labels(account.channel, row.outcome.value).inc()
        return NotificationKind.PAYMENT, trade_view(trade)

    async def _process(
        self, uow: UnitOfWork, account: ChannelAccount, note: Notification
    ) -> tuple[NotificationKind, dict[str, Any]] | None:
        """Apply a verified notification; what changed (a trade's or a refund's view), if
        anything did."""
        channel = account.channel
        payload = mask(dict(note.payload))
        row = self._inbox_row(account, note, payload)
        if note.kind is NotificationKind.OTHER:
            # verified, but about nothing paygate owns (e.g. a Stripe event of another type):
            # kept and acknowledged, so the channel stops re-sending it
            row.outcome = InboxOutcome.IGNORED
            if await uow.inbox.claim(row):
                metrics.NOTIFICATIONS.labels(channel, "ignored").inc()
            return None
        if note.kind is NotificationKind.REFUND:
            refund = await refund_of(uow, account, note)
            row.trade_id = refund.trade_id
            if not await uow.inbox.claim(row):
                metrics.NOTIFICATIONS.labels(channel, "duplicate").inc()
                return None
            metrics.NOTIFICATIONS.labels(channel, "processed").inc()
            refund_changed = await apply_refund_notification(uow, refund, note)
            return None if refund_changed is None else (NotificationKind.REFUND, refund_changed)
        found = await uow.trades.by_attempt(note.attempt_no) if note.attempt_no else None
        if found is None:
            raise _Mismatch(f"no trade for attempt {note.attempt_no!r}")
        trade, attempt = found
        if attempt.channel_account_id != account.id or attempt.channel != channel:
            raise _Mismatch("the notification came through another account than the attempt's")
        row.trade_id = trade.id
        if not await uow.inbox.claim(row):
            metrics.NOTIFICATIONS.labels(channel, "duplicate").inc()
            return None
        metrics.NOTIFICATIONS.labels(channel, row.outcome.value).inc()
        if note.payment_status is None:
            return None
        if not self._amount_matches(trade, note):
            raise _Mismatch(
                f"amount {note.amount} does not match the trade's {trade.currency} {trade.amount}"
            )
        event = STATUS_EVENTS[note.payment_status]
        if event is None:
            return None
        changed = await record_event(
            uow,
            trade,
            event,
            source=Source.NOTIFY,
            exchange=self._exchange(note, payload),
            facts=self._facts(note),
        )
        return (NotificationKind.PAYMENT, trade_view(trade)) if changed else None

    @staticmethod
    def _inbox_row(
        account: ChannelAccount, note: Notification, payload: dict[str, Any]
    ) -> ChannelNotification:
        """The notification as the inbox keeps it, claimed under its channel identity."""
        return ChannelNotification(
            channel=account.channel,
            channel_account_id=account.id,
            notification_id=note.notification_id,
            kind=note.kind.value,
            outcome=InboxOutcome.PROCESSED,
            payload=payload,
            handled_at=utc_now(),
        )

    @staticmethod
    def _facts(note: Notification) -> Facts:
        return Facts(
            note.channel_trade_no,
            note.amount.minor if note.amount else None,
            note.occurred_at,
            attempt_no=note.attempt_no,
        )

    @staticmethod
    def _exchange(note: Notification, payload: dict[str, Any]) -> dict[str, Any]:
        """What the trade log keeps of the notification (``payload``: masked)."""
        return {"notification": payload, "channel_status": note.channel_status}

    async def _confirm(self, account: ChannelAccount, note: Notification) -> Notification:
        """The channel's own word, read back, in place of what the notification claims."""
        if note.kind is NotificationKind.REFUND and note.refund_no:
            refund = await self._gateway.query_refund(
                account, note.refund_no, note.attempt_no, channel_trade_no=note.channel_trade_no
            )
            return replace(
                note, refund_status=refund.status, channel_status=f"confirmed: {refund.channel_status}"
            )
        status = await self._gateway.query(account, note.attempt_no, note.channel_trade_no)
        return replace(
            note,
            payment_status=status.status,
            amount=status.amount or note.amount,
            channel_trade_no=status.channel_trade_no or note.channel_trade_no,
            channel_status=f"confirmed: {status.channel_status}",
        )

    @staticmethod
    def _amount_matches(trade: Trade, note: Notification) -> bool:
        return note.amount is None or (note.amount.currency, note.amount.minor) == (
            trade.currency,
            trade.amount,
        )

    async def _reject(
        self, channel: str, account_id: int | None, reason: str, payload: Mapping[str, Any]
    ) -> None:
        metrics.NOTIFICATIONS.labels(channel, "rejected").inc()
        metrics.ALERTS.labels("notification_rejected", channel).inc()
        log.warning("alert.notification_rejected", channel=channel, account_id=account_id, reason=reason)
        try:
            async with self._db.transaction() as uow:
                uow.inbox.add(
                    ChannelNotification(
                        channel=channel,
                        channel_account_id=account_id,
                        notification_id=None,
                        outcome=InboxOutcome.REJECTED,
                        error=reason[:500],
                        payload=mask(dict(payload)),
                        handled_at=utc_now(),
                    )
                )
        except Exception:  # recording a rejection must not turn it into a 500
            log.exception("could not record a rejected notification", channel=channel)
