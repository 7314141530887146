"""Reconciliation at scale (issue 9 item 5): a WeChat Pay trade bill of N lines (default
1,000,000 payments plus a refund for every 50th) against N trades on PostgreSQL, end to end
— read the gzip file with its SHA1, parse, stage (COPY), match, classify, settle, write the
results — through the same ``Reconciler`` stages as a daily run.

    python scripts/bench/reconcile.py [--lines N] [--db NAME] [--keep]

Three processes: ``seed`` (database, app, account, trades, attempts, refunds by COPY; the
bill file from the WeChat sandbox's generator), then ``run`` (the measured reconciliation; its
peak RSS is its own), then this driver prints one JSON line on stdout:
``{"reconcile_1m_seconds", "reconcile_1m_peak_rss_mb", "lines", "matched", "discrepancies",
"stages": {…}, "seed_seconds"}`` (for N ≠ 1,000,000 the keys say ``reconcile_lines_…``).
Checks: every line matched, no discrepancy, the settlement matched. Only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import gzip
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DAY = dt.date(2026, 6, 5)
CST = dt.timezone(dt.timedelta(hours=8))
PG = "postgresql://postgres@127.0.0.1:5432"
MASTER_KEY = base64.b64encode(b"b" * 32).decode()
APP_ID = "bench_app"
REFUND_EVERY = 50


def say(text: str) -> None:
    print(f"bench reconcile: {text}", file=sys.stderr, flush=True)


def settings(db: str, work: Path) -> Any:
    from paygate.config import Settings

    return Settings(
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db}",
        data_dir=work / "var",
        master_key=MASTER_KEY,
        sandbox_enabled=False,
        recon_cutoff_minutes=0,
    )


# ---------------------------------------------------------------------------- seed


async def seed(n: int, db: str, work: Path) -> None:
    import asyncpg

    from paygate.accounts.channel_accounts import AccountSettings
    from paygate.bootstrap import build_container
    from paygate.migrations.runner import upgrade
    from paygate.sandbox.wechatpay.bills import synthetic_trade, synthetic_trade_bill

    admin = await asyncpg.connect(f"{PG}/postgres")
    await admin.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    await admin.execute(f"CREATE DATABASE {db}")
    await admin.close()
    s = settings(db, work)
    await upgrade(s.database_url)
    container = build_container(s)
    try:
        await container.apps.create(APP_ID, "bench", ["wechat.native"])
        account_id = await container.accounts.add(
            "wechatpay", "wechatpay-bench", "1900000001", "http://127.0.0.1:9",
            {"merchant_private_key": "k", "apiv3_key": "k" * 32, "platform_public_key": "k"},
            AccountSettings(params={"appid": "wxbench", "merchant_serial_no": "S", "platform_public_key_id": "P"},
                            fee_rate_bp=60),
        )  # fmt: skip
    finally:
        await container.aclose()
    conn = await asyncpg.connect(f"{PG}/{db}")
    start = dt.datetime.combine(DAY, dt.time(), CST).astimezone(dt.UTC)
    step = 86_400 / n
    batch = 100_000
    for first in range(0, n, batch):
        trades, attempts, refunds = [], [], []
        for i in range(first, min(n, first + batch)):
            out_trade_no, transaction_id, total, refund = synthetic_trade(i, REFUND_EVERY)
            paid_at = start + dt.timedelta(seconds=int(i * step))
            trades.append((
                i + 1, f"T{i:020d}", APP_ID, f"O{i}", "wechat.native", "wechatpay", account_id, total, "CNY", "S",
                "succeeded", 1, paid_at, paid_at, total, refund, refund, transaction_id, out_trade_no, out_trade_no,
                0, 0, "{}", "{}", "f", paid_at, paid_at,
            ))  # fmt: skip
            attempts.append(
                (out_trade_no, i + 1, "wechatpay", account_id, transaction_id, "accepted", paid_at, paid_at)
            )
            if refund:
                refunds.append((
                    f"BR{i:011d}", i + 1, APP_ID, f"OR{i}", refund, "CNY", "business", "original", "succeeded", 1,
                    "wechatpay", account_id, out_trade_no, transaction_id, "", "bench", paid_at, paid_at, 0,
                    paid_at, paid_at,
                ))  # fmt: skip
        await conn.copy_records_to_table(
            "trades", records=trades, columns=[
                "id", "trade_no", "app_id", "out_order_no", "pay_type", "channel", "channel_account_id", "amount",
                "currency", "subject", "state", "version", "expire_at", "paid_at", "paid_amount", "refunded_amount",
                "refund_reserved", "channel_trade_no", "attempt_no", "paid_attempt_no", "extra_paid_amount",
                "checks", "extra", "metadata", "fingerprint", "created_at", "updated_at",
            ],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "channel_attempts", records=attempts, columns=[
                "attempt_no", "trade_id", "channel", "channel_account_id", "channel_trade_no", "status",
                "created_at", "updated_at",
            ],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "refunds", records=refunds, columns=[
                "refund_no", "trade_id", "app_id", "out_refund_no", "amount", "currency", "kind", "route", "state",
                "version", "channel", "channel_account_id", "attempt_no", "payment_channel_trade_no",
                "fingerprint", "requested_by", "refunded_at", "finished_at", "checks", "created_at", "updated_at",
            ],
        )  # fmt: skip
    await conn.execute("SELECT setval(pg_get_serial_sequence('trades', 'id'), $1)", n + 1)
    await conn.execute("ANALYZE")
    await conn.close()
    sha1 = hashlib.sha1(usedforsecurity=False)
    with gzip.open(work / "bill.csv.gz", "wt", encoding="utf-8", newline="", compresslevel=1) as out:
        for line in synthetic_trade_bill(
            n, DAY, mchid="1900000001", appid="wxbench", refund_every=REFUND_EVERY
        ):
            text = line + "\r\n"
            sha1.update(text.encode())
            out.write(text)
    (work / "seed.json").write_text(json.dumps({"account_id": account_id, "sha1": sha1.hexdigest()}))


# ---------------------------------------------------------------------------- run (measured)


async def run(n: int, db: str, work: Path) -> dict[str, Any]:
    from paygate.bootstrap import build_container
    from paygate.channels.contract import BillTotals
    from paygate.channels.wechatpay.bill_frames import TradeBillFrames
    from paygate.models import Discrepancy, Settlement
    from paygate.reconciliation.running import BillRefused, BillSource

    seeded = json.loads((work / "seed.json").read_text())
    path = work / "bill.csv.gz"
    container = build_container(settings(db, work))
    try:
        began = time.perf_counter()
        sha1 = hashlib.sha1(usedforsecurity=False)
        handle = gzip.open(path, "rb")
        reader = TradeBillFrames(handle, on_bytes=sha1.update)

        def totals() -> BillTotals | None:
            if sha1.hexdigest() != seeded["sha1"]:
                raise BillRefused("the bill file does not match its hash_value")
            return reader.totals

        size = path.stat().st_size
        source = BillSource(
            [], totals, (path.name, None, size, "bench", str(path)), size_hint=n, frames=reader
        )
        try:
            outcome = await container.reconciler.run_source(seeded["account_id"], DAY, source)
        finally:
            handle.close()
        seconds = time.perf_counter() - began
        async with container.db.reading() as uow:
            run_row = await uow.reconciliation.run(outcome.run_id)
        assert run_row is not None
        async with container.sessions() as session:
            from sqlalchemy import func, select

            found = (await session.execute(select(func.count()).select_from(Discrepancy))).scalar_one()
            states = [s.state.value for s in (await session.execute(select(Settlement))).scalars()]
    finally:
        await container.aclose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "state": outcome.state.value,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak, 1),
        "lines": run_row.lines,
        "matched": run_row.matched,
        "discrepancies": found,
        "settlements": states,
        "stages": (run_row.summary or {}).get("stages", {}),
    }


# ---------------------------------------------------------------------------- driver


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("phase", nargs="?", default="all", choices=["all", "seed", "run"])
    parser.add_argument("--lines", type=int, default=int(os.environ.get("BENCH_RECON_LINES", 1_000_000)))
    parser.add_argument("--db", default=os.environ.get("BENCH_RECON_DB", "paygate_bench_recon"))
    parser.add_argument("--work", default="")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if args.phase == "seed":
        asyncio.run(seed(args.lines, args.db, Path(args.work)))
        return
    if args.phase == "run":
        print(json.dumps(asyncio.run(run(args.lines, args.db, Path(args.work)))))
        return
    work = Path(tempfile.mkdtemp(prefix="paygate-bench-recon."))
    me = [sys.executable, __file__, "--lines", str(args.lines), "--db", args.db, "--work", str(work)]
    say(f"seeding {args.lines} trades and the bill (not measured) in {work}")
    began = time.perf_counter()
    subprocess.run([*me[:2], "seed", *me[2:]], check=True)
    seeded = round(time.perf_counter() - began, 1)
    say("reconciling (measured)")
    done = subprocess.run([*me[:2], "run", *me[2:]], check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])  # logs go to stdout before it
    n = args.lines
    refunds = (n + REFUND_EVERY - 1) // REFUND_EVERY
    ok = (
        result["state"] == "done"
        and result["lines"] == n + refunds
        and result["matched"] == n + refunds
        and result["discrepancies"] == 0
        and result["settlements"] == ["matched"]
    )
    if not ok:
        say(f"FAILED: {result}")
        sys.exit(1)
    key = "1m" if n == 1_000_000 else f"lines_{n}"
    print(json.dumps({
        f"reconcile_{key}_seconds": result["seconds"],
        f"reconcile_{key}_peak_rss_mb": result["peak_rss_mb"],
        "lines": result["lines"],
        "matched": result["matched"],
        "discrepancies": result["discrepancies"],
        "stages": result["stages"],
        "seed_seconds": seeded,
    }))  # fmt: skip
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
