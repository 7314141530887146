"""A running paygate with fast event retries, a job runner, and an app receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from paygate.jobs import JobRunner
from tests.support.stack import Stack, running_stack, stack_settings

#: 4 attempts, 50 ms apart: the real 16 over 24 h are in paygate.domain.events
FAST_SCHEDULE = [0, 0.05, 0.05, 0.05]


@pytest.fixture
async def events_stack(db_url: str, data_dir: Path) -> AsyncIterator[Stack]:
    settings = stack_settings(
        db_url,
        data_dir,
        event_retry_schedule=FAST_SCHEDULE,
        event_retry_jitter=0.0,
        event_poll_seconds=0.05,
        event_timeout_seconds=3.0,
    )
    async with running_stack(settings) as stack:
        yield stack


@pytest.fixture
async def dispatcher(events_stack: Stack) -> AsyncIterator[JobRunner]:
    runner = events_stack.container.job_runner({"deliveries"})
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop(5.0)
