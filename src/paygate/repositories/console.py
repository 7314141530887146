"""Reads behind the operators' console (R-OPS-1, R-OPS-2): search by any number, the pieces
of a trade's timeline that other repositories do not read, the dashboard's trade rows and
the notification backlog."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from paygate.domain.events import DeliveryState
from paygate.domain.reconciliation import DiscrepancyState
from paygate.models import (
    App,
    CallLog,
    ChannelAttempt,
    Discrepancy,
    EventDelivery,
    OutboxMessage,
    Refund,
    Trade,
)

__all__ = ["ConsoleRepository"]


class ConsoleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find_trades(self, number: str, limit: int = 50) -> list[Trade]:
        """Trades any of whose numbers is ``number``: ours, the app's, the channel's, or an
        attempt's (what the channel saw as the merchant order number)."""
        via_attempt = select(ChannelAttempt.trade_id).where(
            or_(ChannelAttempt.attempt_no == number, ChannelAttempt.channel_trade_no == number)
        )
        query = (
            select(Trade)
            .where(
                or_(
                    Trade.trade_no == number,
                    Trade.out_order_no == number,
                    Trade.channel_trade_no == number,
                    Trade.id.in_(via_attempt),
                )
            )
            .order_by(Trade.id.desc())
            .limit(limit)
        )
        return list((await self._session.execute(query)).scalars())

    async def find_refunds(self, number: str, limit: int = 50) -> list[tuple[Refund, Trade]]:
        query = (
            select(Refund, Trade)
            .join(Trade, Trade.id == Refund.trade_id)
            .where(
                or_(
                    Refund.refund_no == number,
                    Refund.out_refund_no == number,
                    Refund.channel_refund_no == number,
                )
            )
            .order_by(Refund.id.desc())
            .limit(limit)
        )
        return [(r, t) for r, t in (await self._session.execute(query)).all()]

    async def recent_trades(self, limit: int = 20) -> list[Trade]:
        query = select(Trade).order_by(Trade.id.desc()).limit(limit)
        return list((await self._session.execute(query)).scalars())

    async def attempts(self, trade_id: int) -> list[ChannelAttempt]:
        query = select(ChannelAttempt).where(ChannelAttempt.trade_id == trade_id).order_by(ChannelAttempt.id)
        return list((await self._session.execute(query)).scalars())

    async def calls(self, trade_no: str, limit: int = 100) -> list[CallLog]:
        query = select(CallLog).where(CallLog.trade_no == trade_no).order_by(CallLog.id).limit(limit)
        return list((await self._session.execute(query)).scalars())

    async def events_of(self, aggregates: Sequence[str]) -> list[OutboxMessage]:
        if not aggregates:
            return []
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.aggregate.in_(list(aggregates)))
            .order_by(OutboxMessage.id)
        )
        return list((await self._session.execute(query)).scalars())

    async def trade_rows(self, since: datetime, limit: int) -> list[dict[str, Any]]:
        """The dashboard's raw material: one small row per trade created since ``since``."""
        query = (
            select(
                Trade.created_at,
                Trade.paid_at,
                Trade.channel,
                Trade.pay_type,
                Trade.state,
                Trade.amount,
                Trade.currency,
            )
            .where(Trade.created_at >= since)
            .order_by(Trade.created_at)
            .limit(limit)
        )
        return [dict(r._mapping) for r in (await self._session.execute(query)).all()]

    async def attempt_rows(self, since: datetime, limit: int) -> list[dict[str, Any]]:
        """Channel attempts since ``since``: sent (``created_at``) and answered (``updated_at``)."""
        query = (
            select(
                ChannelAttempt.created_at,
                ChannelAttempt.updated_at,
                ChannelAttempt.status,
                Trade.channel,
                Trade.pay_type,
            )
            .join(Trade, Trade.id == ChannelAttempt.trade_id)
            .where(ChannelAttempt.created_at >= since)
            .order_by(ChannelAttempt.created_at)
            .limit(limit)
        )
        return [dict(r._mapping) for r in (await self._session.execute(query)).all()]

    async def apps(self) -> list[App]:
        return list((await self._session.execute(select(App).order_by(App.app_id))).scalars())

    async def open_discrepancies(self) -> dict[str, int]:
        """Open reconciliation discrepancies per channel (R-REC-2, R-OPS-1)."""
        query = (
            select(Discrepancy.channel, func.count())
            .where(Discrepancy.state == DiscrepancyState.OPEN)
            .group_by(Discrepancy.channel)
        )
        return {str(channel): int(n) for channel, n in (await self._session.execute(query)).all()}

    async def delivery_counts(self) -> dict[str, int]:
        """Deliveries of events to apps per state (pending = the backlog, dead = dead letters)."""
        query = select(EventDelivery.state, func.count()).where(
            EventDelivery.state.in_([DeliveryState.PENDING, DeliveryState.DEAD])
        )
        rows = (await self._session.execute(query.group_by(EventDelivery.state))).all()
        counts = {str(DeliveryState.PENDING): 0, str(DeliveryState.DEAD): 0}
        counts.update({str(state): int(n) for state, n in rows})
        return counts
