"""Jobs (R-OPS-3): a periodic job runs once per interval however many workers share the
database; the registry refuses what it cannot run; a stop is bounded."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path

import pytest

from paygate.bootstrap import build_container
from paygate.jobs import JobRegistry, JobRunner
from paygate.kit.clock import utc_now
from tests.support.stack import stack_settings


class Counting:
    """A periodic job that notes when each run started (shared by the two runners)."""

    def __init__(self, starts: list[datetime], name: str = "test.count", interval: float = 0.3) -> None:
        self.name = name
        self.interval = interval
        self._starts = starts
        self.shared = {"running": 0, "overlapped": 0}

    async def run_once(self) -> int:
        self._starts.append(utc_now())
        self.shared["running"] += 1
        self.shared["overlapped"] += self.shared["running"] > 1
        await asyncio.sleep(0.05)
        self.shared["running"] -= 1
        return 1


async def test_a_periodic_job_runs_once_per_interval_across_workers(db_url: str, data_dir: Path) -> None:
    """Two runners, each with its own engine (as two processes would have), share one
    database; together they run the job about once per interval, never twice for one."""
    starts: list[datetime] = []
    containers = [build_container(stack_settings(db_url, data_dir)) for _ in range(2)]
    runners = []
    jobs = [Counting(starts), Counting(starts)]
    jobs[1].shared = jobs[0].shared  # one count of runs in progress, across both runners
    for container, job in zip(containers, jobs, strict=True):
        registry = JobRegistry()
        registry.periodic(job)
        runners.append(JobRunner(container.db, registry.select(None)))
    try:
        for runner in runners:
            await runner.start()
        await asyncio.sleep(2.5)
    finally:
        for runner in runners:
            await runner.stop(5)
        for container in containers:
            await container.aclose()
    # 2.5 s at one run per 0.3 s: at most 9 runs (each won by one runner), never two at once
    assert 5 <= len(starts) <= 9, starts
    assert jobs[0].shared == {"running": 0, "overlapped": 0}
    async with containers[0].sessions() as session:
        from sqlalchemy import select

        from paygate.models import ScheduledJob

        row = (
            await session.execute(select(ScheduledJob).where(ScheduledJob.name == "test.count"))
        ).scalar_one()
    assert row.runs == len(starts) and row.lease_until is None and row.last_result == "handled 1"


class Stuck:
    name = "test.stuck"
    interval = 0.05

    async def run_once(self) -> int:
        await asyncio.sleep(3600)
        return 0


async def test_a_stop_is_bounded_even_when_a_job_never_returns(db_url: str, data_dir: Path) -> None:
    container = build_container(stack_settings(db_url, data_dir))
    registry = JobRegistry()
    registry.claiming(Stuck())
    runner = JobRunner(container.db, registry.select(None))
    await runner.start()
    await asyncio.sleep(0.1)
    began = time.monotonic()
    await runner.stop(0.5)
    assert time.monotonic() - began < 3
    await container.aclose()


def test_the_registry_refuses_duplicates_bad_intervals_and_unknown_names() -> None:
    registry = JobRegistry()
    registry.periodic(Counting([]))
    with pytest.raises(ValueError, match="already registered"):
        registry.claiming(Counting([]))
    with pytest.raises(ValueError, match="interval"):
        registry.periodic(Counting([], name="other", interval=0))
    with pytest.raises(KeyError, match="unknown job"):
        registry.select({"nope"})
    assert [e.job.name for e in registry.select({"test.count"})] == ["test.count"]
