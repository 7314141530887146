"""``paygate reconcile`` (R-REC-1, R-OPS-2): a progress bar and a summary table; exit 1 while
discrepancies stay open; resolve with a reason; the CSV export; bad input refused, exit 2."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paygate.cli import cli
from tests.reconciliation.support import BILL_READY, bill_day, paid, trade_row
from tests.support.stack import Stack

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _env(stack: Stack) -> dict[str, str]:
    s = stack.settings
    return {
        "PAYGATE_DATABASE_URL": s.database_url,
        "PAYGATE_DATA_DIR": str(s.data_dir),
        "PAYGATE_MASTER_KEY": s.master_key or "",
        "PAYGATE_PUBLIC_BASE_URL": s.public_base_url,
    }


async def _paygate(stack: Stack, *args: str, stdin: str = "") -> tuple[int, str, str]:
    runner = CliRunner()
    result = await asyncio.to_thread(runner.invoke, cli, list(args), env=_env(stack), input=stdin)
    return result.exit_code, result.stdout, result.stderr


async def test_reconcile_resolve_and_export_from_the_command_line(stack: Stack, tmp_path: Path) -> None:
    good = await paid(stack, amount=1000)
    off = await paid(stack, amount=2000)
    attempt = (await trade_row(stack, off["trade_no"])).paid_attempt_no
    stack.sandbox("alipay").set_faults(bills={"amount_delta": {attempt: -1}})
    stack.sandbox("alipay").advance_clock(BILL_READY["alipay"])
    day = str(bill_day(good))

    code, out, err = await _paygate(stack, "reconcile", "--channel", "alipay", "--date", day)

    assert code == 1, err  # a discrepancy stays open
    assert f"alipay {day} stage" in err and "100%" in err  # the progress bar
    for text in ("bill lines", "matched", "amount_mismatch", "settlement CNY", "mismatch", "time: match"):
        assert text in out, out
    code, out, _ = await _paygate(stack, "reconcile", "discrepancies")
    assert code == 0 and '"kind": "amount_mismatch"' in out and off["trade_no"] in out
    discrepancy_id = out.split('"id": ')[1].split(",")[0]
    await stack.container.operators.add("abe", "approver", "correct horse battery staple")
    password = tmp_path / "pw"
    password.write_text("correct horse battery staple\n")
    code, out, err = await _paygate(
        stack, "reconcile", "resolve", discrepancy_id, "--reason", "bank statement shows 19.99",
        "--operator", "abe", "--password-file", str(password),
    )  # fmt: skip
    assert code == 0, err
    assert '"state": "resolved"' in out and '"resolved_by": "operator:abe"' in out
    code, out, _ = await _paygate(stack, "reconcile", "runs")
    run_id = out.split('"run_id": ')[1].split(",")[0]
    target = tmp_path / "lines.csv"
    code, _, err = await _paygate(stack, "reconcile", "export", run_id, "--out", str(target))
    assert code == 0 and "2 lines written" in err
    lines = list(csv.DictReader(io.StringIO(target.read_text())))
    assert {line["status"] for line in lines} == {"matched", "discrepancy"}
    # refused input: a clear message and exit code 2, never a traceback
    code, _, err = await _paygate(stack, "reconcile", "--channel", "alipay", "--date", "2026-02-30")
    assert code == 2 and "INVALID_BILL_DATE" in err
    code, _, err = await _paygate(
        stack, "reconcile", "--channel", "alipay", "--account", "999", "--date", day
    )
    assert code == 2 and "NO_CHANNEL_ACCOUNT" in err
