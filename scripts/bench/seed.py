"""Seed many trades fast, straight into PostgreSQL with COPY (not through the API): the
scale-shape runs (10,000 / 1,000,000 existing trades) and the notification bench use it.

    seed.py DATABASE_URL N TAG [--state pending|succeeded]   → prints N on stdout

Rows are what the pay flow writes for an ``alipay.jsapi`` trade of the demo app on the
sandbox's Alipay account: a trade (``out_order_no`` = ``S<TAG>-<n>``) and its accepted attempt
(``attempt_no`` = ``P<trade_no without T>01``). Needs the database migrated and seeded
(``paygate migrate``, ``paygate demo seed``)."""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from datetime import UTC, datetime, timedelta

import asyncpg

BATCH = 50_000


async def seed(url: str, n: int, tag: str, state: str) -> int:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        account = await conn.fetchval(
            "SELECT id FROM channel_accounts WHERE channel = 'alipay' ORDER BY id LIMIT 1"
        )
        if account is None:
            raise SystemExit("seed.py: no alipay channel account: run `paygate demo seed` first")
        first_id = int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM trades")) + 1
        now = datetime.now(UTC)
        expire = now + timedelta(days=1)
        stamp = now.strftime("%Y%m%d%H%M%S")
        salt = secrets.randbelow(10**5)  # trade_no as paygate makes it: T + 14 + 12 digits
        done = 0
        while done < n:
            size = min(BATCH, n - done)
            trades, attempts = [], []
            for i in range(done, done + size):
                tid = first_id + i
                trade_no = f"T{stamp}{salt:05d}{i:07d}"
                attempt_no = f"P{trade_no[1:]}01"
                paid = state == "succeeded"
                trades.append(
                    (
                        tid,
                        trade_no,
                        "demo",
                        f"S{tag}-{i}",
                        "alipay.jsapi",
                        "alipay",
                        account,
                        1999,
                        "CNY",
                        "Seeded order",
                        state,
                        1,
                        expire,
                        attempt_no,
                        "{}",
                        "{}",
                        "seed",
                        0,
                        0,
                        0,
                        0,
                        now,
                        now,
                        None if paid else expire,
                        1999 if paid else None,
                        now if paid else None,
                        attempt_no if paid else None,
                    )
                )
                attempts.append((attempt_no, tid, "alipay", account, "accepted", now, now))
            await conn.copy_records_to_table(
                "trades",
                records=trades,
                columns=[
                    "id",
                    "trade_no",
                    "app_id",
                    "out_order_no",
                    "pay_type",
                    "channel",
                    "channel_account_id",
                    "amount",
                    "currency",
                    "subject",
                    "state",
                    "version",
                    "expire_at",
                    "attempt_no",
                    "extra",
                    "metadata",
                    "fingerprint",
                    "refunded_amount",
                    "refund_reserved",
                    "extra_paid_amount",
                    "checks",
                    "created_at",
                    "updated_at",
                    "next_check_at",
                    "paid_amount",
                    "paid_at",
                    "paid_attempt_no",
                ],
            )
            await conn.copy_records_to_table(
                "channel_attempts",
                records=attempts,
                columns=[
                    "attempt_no",
                    "trade_id",
                    "channel",
                    "channel_account_id",
                    "status",
                    "created_at",
                    "updated_at",
                ],
            )
            done += size
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('trades', 'id'), (SELECT max(id) FROM trades))"
        )
        await conn.execute("ANALYZE trades; ANALYZE channel_attempts")
        return done
    finally:
        await conn.close()


def main() -> None:
    url, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    state = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--state" else "pending"
    print(json.dumps({"seeded": asyncio.run(seed(url, n, tag, state)), "tag": tag}))


if __name__ == "__main__":
    main()
