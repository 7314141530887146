from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.stack import Stack, running_stack, stack_settings


@pytest.fixture
async def stack(db_url: str, data_dir: Path) -> AsyncIterator[Stack]:
    async with running_stack(stack_settings(db_url, data_dir)) as s:
        yield s
