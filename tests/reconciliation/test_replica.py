"""R-REC-5: with a read replica configured, the bulk reads of reconciliation (bill and
settlement queries, operator lists, exports) go to it; runs and resolutions use the primary.
Here the "replica" is a second, empty database, so a read that reached the primary would
show the run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from paygate.migrations.runner import upgrade
from tests.reconciliation.support import bill_day, paid, reconcile, run_row
from tests.support.stack import Stack, running_stack, stack_settings

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
async def stack(db_url: str, data_dir: Path, tmp_path: Path) -> AsyncIterator[Stack]:
    replica = f"sqlite+aiosqlite:///{tmp_path / 'replica.db'}"
    await upgrade(replica)
    settings = stack_settings(db_url, data_dir, recon_cutoff_minutes=0, database_replica_url=replica)
    async with running_stack(settings) as s:
        yield s


async def test_bulk_reads_go_to_the_replica(stack: Stack) -> None:
    trade = await paid(stack, amount=1000)
    outcome = await reconcile(stack, "alipay", bill_day(trade))
    assert (await run_row(stack, outcome.run_id)).lines == 1  # written to the primary

    page = await stack.client.query_bill("alipay", str(bill_day(trade)))
    assert page["runs"] == [] and page["items"] == []  # read from the (lagging) replica
    assert await stack.container.reconciliation.runs() == []
    assert stack.container.replica_engine is not None
