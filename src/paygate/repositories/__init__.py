"""Repositories: all SQL lives here. Services reach them only through a unit of work
(:mod:`.unit_of_work`), which owns the session and the transaction."""

from paygate.repositories.outbox import ClaimedDelivery, DeliveryResult
from paygate.repositories.unit_of_work import ConcurrentUpdate, Database, UnitOfWork

__all__ = ["ClaimedDelivery", "ConcurrentUpdate", "Database", "DeliveryResult", "UnitOfWork"]
