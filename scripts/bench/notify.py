"""Signed Alipay payment notifications for the inbound-notification bench.

    notify.py DATABASE_URL DATA_DIR TAG N OUT   → OUT holds N lines, prints {"account_id": …}

Seeds N pending ``alipay.jsapi`` trades of the demo app with COPY (seed.py), then writes for
each one the form body Alipay would POST to ``/notify/alipay/<account_id>`` when its buyer
pays: ``trade_status=TRADE_SUCCESS``, a fresh ``notify_id``, every field the sandbox sends,
signed RSA2 with the sandbox's Alipay private key (``DATA_DIR/sandbox/alipay.json``). One line
per notification, in random order; each trade's notification appears exactly once, so every
request in the bench is a first delivery that moves a trade to ``succeeded`` (a repeated one
is cheaper and would flatter the figure). Signing runs on every core."""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import sys
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed import seed

from paygate.sandbox.alipay.keys import load_or_create
from paygate.sandbox.alipay.wire import encode_form, format_time, sign_notification

_KEY = ""
_COMMON: dict[str, str] = {}


def _init(key: str, common: dict[str, str]) -> None:
    global _KEY, _COMMON
    _KEY, _COMMON = key, common


def _body(item: tuple[str, int]) -> str:
    attempt_no, n = item
    params = {
        **_COMMON,
        "notify_id": f"2026{secrets.token_hex(14)}",
        "trade_no": f"2026120122001{n:019d}",
        "out_trade_no": attempt_no,
    }
    return encode_form(sign_notification(params, _KEY, "RSA2", "utf-8"), "utf-8")


async def _attempts(url: str, tag: str) -> tuple[int, list[str]]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch(
            "SELECT attempt_no, channel_account_id FROM trades WHERE out_order_no LIKE $1", f"S{tag}-%"
        )
    finally:
        await conn.close()
    return int(rows[0]["channel_account_id"]), [r["attempt_no"] for r in rows]


def main() -> None:
    url, data_dir, tag, n, out = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
    asyncio.run(seed(url, n, tag, "pending"))
    account_id, attempts = asyncio.run(_attempts(url, tag))
    identity = load_or_create(data_dir / "sandbox")
    merchant, buyer = identity.demo_merchant, identity.demo_buyer
    now = format_time(datetime.now(UTC))
    common = {
        "notify_type": "trade_status_sync",
        "notify_time": now,
        "app_id": merchant.app_id,
        "auth_app_id": merchant.app_id,
        "charset": "utf-8",
        "version": "1.0",
        "buyer_id": buyer.user_id,
        "buyer_logon_id": buyer.masked_logon_id,
        "seller_id": merchant.seller_id,
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "19.99",
        "receipt_amount": "19.99",
        "invoice_amount": "19.99",
        "buyer_pay_amount": "19.99",
        "point_amount": "0.00",
        "subject": "Seeded order",
        "gmt_create": now,
        "gmt_payment": now,
        "fund_bill_list": '[{"amount":"19.99","fundChannel":"ALIPAYACCOUNT"}]',
    }
    items = [(a, i) for i, a in enumerate(attempts)]
    random.shuffle(items)
    with ProcessPoolExecutor(initializer=_init, initargs=(identity.alipay_private_key, common)) as pool:
        bodies = list(pool.map(_body, items, chunksize=256))
    Path(out).write_text("\n".join(bodies) + "\n")
    print(json.dumps({"account_id": account_id, "notifications": len(bodies)}))


if __name__ == "__main__":
    main()
