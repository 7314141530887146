"""Periodic housekeeping jobs."""

from __future__ import annotations

from paygate.kit.clock import utc_now
from paygate.repositories import Database

__all__ = ["PurgeExpiredNonces"]


class PurgeExpiredNonces:
    """Request nonces kept in the database (no Redis) are needed only within the signing
    window; this forgets the older ones so the table stays small (R-SEC-1)."""

    name = "nonces.purge"

    def __init__(self, db: Database, interval: float = 600.0, batch: int = 5000) -> None:
        self._db = db
        self._batch = batch
        self.interval = interval

    async def run_once(self) -> int:
        total = 0
        while True:
            gone: int = await self._db.run(lambda uow: uow.nonces.purge_expired(utc_now(), self._batch))
            total += gone
            if gone < self._batch:
                return total
