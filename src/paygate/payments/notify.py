"""The generic channel-notification flow (R-NTF-1, R-NTF-2, R-SEC-3).

One template for every channel: parse + verify (the adapter's hook) → de-duplicate in the
inbox → find the trade → check account, amount and currency → move the state machine →
reply in the channel's exact format. A notification that cannot be verified, or that does
not match the trade, changes nothing: it is kept in the inbox as *rejected*, counted, and
answered with the channel's failure reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paygate.channels.contract import (
    ChannelAdapter,
    Notification,
    NotificationKind,
    NotificationRejected,
    NotifyReply,
    ReturnInfo,
)
from paygate.channels.registry import AccountCodec, ChannelRegistry
from paygate.kit import metrics
from paygate.kit.db import utcnow
from paygate.kit.errors import PaygateError
from paygate.kit.masking import mask
from paygate.models import ChannelNotification, Trade
from paygate.payments.service import STATUS_EVENTS, PaymentService
from paygate.payments.transitions import retry_stale
from paygate.payments.views import trade_view
from paygate.repositories import ChannelAccountRepository, InboxRepository, TradeRepository

__all__ = ["NotificationService"]

log = structlog.get_logger("paygate.notify")


class _Mismatch(Exception):
    pass


class NotificationService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: ChannelRegistry,
        codec: AccountCodec,
        payments: PaymentService,
    ) -> None:
        self.sessions = sessions
        self.registry = registry
        self.codec = codec
        self.payments = payments

    async def handle(
        self, channel: str, account_id: int, headers: Mapping[str, str], body: bytes
    ) -> NotifyReply:
        adapter = self.registry.adapter(channel)
        async with self.sessions() as session:
            row = await ChannelAccountRepository(session).get(account_id)
        if row is None or row.channel != channel:
            await self._reject(channel, None, "unknown channel account", {"account_id": account_id})
            return adapter.notify_reply(False)
        account = self.codec.to_account(row)
        try:
            note = adapter.parse_notification(account, headers, body)
        except NotificationRejected as exc:
            await self._reject(channel, account_id, exc.reason, exc.payload)
            return adapter.notify_reply(False)
        try:
            accepted = await retry_stale(lambda: self._process(channel, account_id, note))
        except _Mismatch as exc:
            await self._reject(channel, account_id, str(exc), note.payload)
            return adapter.notify_reply(False)
        return adapter.notify_reply(accepted)

    async def _reject(
        self, channel: str, account_id: int | None, reason: str, payload: Mapping[str, Any]
    ) -> None:
        metrics.NOTIFICATIONS.labels(channel, "rejected").inc()
        metrics.ALERTS.labels("notification_rejected", channel).inc()
        log.warning("alert.notification_rejected", channel=channel, account_id=account_id, reason=reason)
        try:
            async with self.sessions() as session, session.begin():
                InboxRepository(session).add(
                    ChannelNotification(
                        channel=channel,
                        channel_account_id=account_id,
                        notification_id=None,
                        outcome="rejected",
                        error=reason[:500],
                        payload=mask(dict(payload)),
                        handled_at=utcnow(),
                    )
                )
        except Exception:  # recording a rejection must not turn it into a 500
            log.exception("could not record a rejected notification", channel=channel)

    async def _process(self, channel: str, account_id: int, note: Notification) -> bool:
        async with self.sessions() as session:
            try:
                async with session.begin():
                    changed_view = await self._process_in(session, channel, account_id, note)
            except IntegrityError:
                # the same notification is being processed concurrently: it is handled
                metrics.NOTIFICATIONS.labels(channel, "duplicate").inc()
                return True
        if changed_view is not None:  # committed: the after_pay hooks may run now
            await self.payments.run_hooks(changed_view)
        return True

    async def _process_in(
        self, session: AsyncSession, channel: str, account_id: int, note: Notification
    ) -> dict[str, Any] | None:
        """Apply a verified notification; the trade's view when its state changed."""
        inbox = InboxRepository(session)
        seen = await inbox.find(channel, note.notification_id)
        if seen is not None and seen.outcome in ("processed", "received", "ignored"):
            metrics.NOTIFICATIONS.labels(channel, "duplicate").inc()
            return None
        if note.kind is NotificationKind.OTHER:
            # verified, but about nothing paygate owns (e.g. a Stripe event of another type):
            # kept and acknowledged, so the channel stops re-sending it
            inbox.add(
                ChannelNotification(
                    channel=channel,
                    channel_account_id=account_id,
                    notification_id=note.notification_id,
                    kind=note.kind.value,
                    outcome="ignored",
                    payload=mask(dict(note.payload)),
                    handled_at=utcnow(),
                )
            )
            await session.flush()
            metrics.NOTIFICATIONS.labels(channel, "ignored").inc()
            return None
        trades = TradeRepository(session)
        attempt = await trades.attempt(note.attempt_no) if note.attempt_no else None
        trade = await trades.by_id(attempt.trade_id) if attempt else None
        if trade is None:
            raise _Mismatch(f"no trade for attempt {note.attempt_no!r}")
        if trade.channel_account_id != account_id or trade.channel != channel:
            raise _Mismatch("the notification came through another account than the trade's")
        row = ChannelNotification(
            channel=channel,
            channel_account_id=account_id,
            notification_id=note.notification_id,
            kind=note.kind.value,
            outcome="processed",
            trade_id=trade.id,
            payload=mask(dict(note.payload)),
            handled_at=utcnow(),
        )
        changed = False
        if note.kind is NotificationKind.PAYMENT and note.payment_status is not None:
            self._check_amount(trade, note)
            event = STATUS_EVENTS[note.payment_status]
            if event is not None:
                changed = await self.payments.apply(
                    session,
                    trade,
                    event,
                    "notify",
                    {"notification": mask(dict(note.payload)), "channel_status": note.channel_status},
                    note.channel_trade_no,
                    note.amount.minor if note.amount else None,
                    note.occurred_at,
                )
        else:
            # refunds and other kinds are kept for their own flows (replayable from the inbox)
            row.outcome = "received"
            row.handled_at = None
        inbox.add(row)
        await session.flush()
        self.payments.cache.invalidate(trade)
        metrics.NOTIFICATIONS.labels(channel, row.outcome).inc()
        return trade_view(trade) if changed else None

    @staticmethod
    def _check_amount(trade: Trade, note: Notification) -> None:
        if note.amount is None:
            return
        if note.amount.currency != trade.currency or note.amount.minor != trade.amount:
            raise _Mismatch(
                f"amount {note.amount} does not match the trade's {trade.currency} {trade.amount}"
            )

    # ------------------------------------------------------------------ return

    async def handle_return(
        self, channel: str, account_id: int, query: Mapping[str, str]
    ) -> tuple[Trade | None, ReturnInfo | None]:
        """The payer's browser came back. Never proof of payment: it only names the trade;
        the page shows paygate's own state. (A verified return may prompt a channel query.)"""
        adapter: ChannelAdapter = self.registry.adapter(channel)
        async with self.sessions() as session:
            row = await ChannelAccountRepository(session).get(account_id)
            if row is None or row.channel != channel:
                return None, None
            info = adapter.parse_return(self.codec.to_account(row), query)
            attempt = await TradeRepository(session).attempt(info.attempt_no) if info.attempt_no else None
            trade = await TradeRepository(session).by_id(attempt.trade_id) if attempt else None
        if trade is not None and info.verified and trade.state not in ("succeeded", "failed", "closed"):
            try:
                await self.payments.sync_with_channel(trade, source="return")
                async with self.sessions() as session:
                    trade = await TradeRepository(session).by_id(trade.id)
            except PaygateError:
                pass  # the notification or compensation will settle it
        return trade, info
