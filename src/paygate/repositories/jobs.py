"""Periodic jobs' rows: who runs the next run of a job, across every worker process."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from paygate.models import ScheduledJob

__all__ = ["JobRepository"]


class JobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def ensure(self, name: str, first_run_at: datetime) -> None:
        """The job's row exists (another process may have made it first)."""
        if await self._session.get(ScheduledJob, name) is not None:
            return
        try:
            async with self._session.begin_nested():
                await self._session.execute(
                    insert(ScheduledJob).values(name=name, next_run_at=first_run_at, runs=0)
                )
        except IntegrityError:
            pass

    async def take(
        self, name: str, now: datetime, next_run_at: datetime, lease_until: datetime, owner: str
    ) -> bool:
        """Win the job's due run: one conditional UPDATE, so exactly one process of all those
        asking gets True for a run."""
        job = ScheduledJob
        result = await self._session.execute(
            update(job)
            .where(
                job.name == name,
                job.next_run_at <= now,
                or_(job.lease_until.is_(None), job.lease_until < now),
            )
            .values(
                next_run_at=next_run_at,
                lease_until=lease_until,
                owner=owner,
                runs=job.runs + 1,
                last_started_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def finish(self, name: str, owner: str, now: datetime, result: str) -> None:
        job = ScheduledJob
        await self._session.execute(
            update(job)
            .where(job.name == name, job.owner == owner)
            .values(lease_until=None, last_finished_at=now, last_result=result[:256])
            .execution_options(synchronize_session=False)
        )

    async def next_run(self, name: str) -> datetime | None:
        rows = await self._session.execute(select(ScheduledJob.next_run_at).where(ScheduledJob.name == name))
        return rows.scalar_one_or_none()

    async def all(self) -> list[ScheduledJob]:
        return list((await self._session.execute(select(ScheduledJob).order_by(ScheduledJob.name))).scalars())
