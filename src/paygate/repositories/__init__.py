"""Repositories: all SQL lives here. Each takes an ``AsyncSession``; callers own the
transaction (services flush, the unit of work commits)."""

from paygate.repositories.apps import AppRepository
from paygate.repositories.channel_accounts import ChannelAccountRepository
from paygate.repositories.logs import CallLogRepository, InboxRepository
from paygate.repositories.messaging import IdempotencyRepository, NonceRepository, OutboxRepository
from paygate.repositories.trades import TradeRepository

__all__ = [
    "AppRepository",
    "CallLogRepository",
    "ChannelAccountRepository",
    "IdempotencyRepository",
    "InboxRepository",
    "NonceRepository",
    "OutboxRepository",
    "TradeRepository",
]
