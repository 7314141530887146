"""The stack for reconciliation tests: no cut-off buffer unless a test asks for one (a test
that runs near midnight Beijing time must not see its trades deferred)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.stack import Stack, running_stack, stack_settings


@pytest.fixture
async def stack(db_url: str, data_dir: Path) -> AsyncIterator[Stack]:
    async with running_stack(stack_settings(db_url, data_dir, recon_cutoff_minutes=0)) as s:
        yield s
