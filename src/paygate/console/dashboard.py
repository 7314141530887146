"""The live dashboard's figures (R-OPS-1): per pay type (and so per channel) over time —
volume, amount paid, success rate and the channel's answer latency — plus the notification
backlog. Read from the database, so every API process shows the same figures; Prometheus
(``/metrics``) has the same story per process for alerting.

Amounts stay integer minor units, per currency; a series never adds two currencies.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, Final

from paygate.domain.trades import AttemptStatus, TradeState
from paygate.kit import metrics
from paygate.kit.clock import utc_now
from paygate.kit.errors import RequestError
from paygate.repositories import Database

__all__ = ["Dashboard"]

#: The most trades (and attempts) one dashboard read looks at.
MAX_ROWS: Final = 50_000
WINDOWS: Final = (15, 60, 360, 1440)  # minutes the console offers
BUCKETS: Final = 30


#: ``/metrics`` reads the backlog from the database at most this often.
GAUGE_SECONDS: Final = 1.0
BREAKER_STATES: Final = ("closed", "open", "half_open")


class Dashboard:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._gauges_at = float("-inf")
        self._recon_channels: set[str] = set()

    async def refresh_gauges(self, breakers: dict[str, str]) -> None:
        """Set the gauges ``/metrics`` shows that live in the database (notification backlog,
        dead letters, open reconciliation discrepancies) and the breakers' states (R-OPS-1)."""
        for name, state in breakers.items():
            for candidate in BREAKER_STATES:
                metrics.CHANNEL_BREAKER_STATE.labels(name, candidate).set(1 if candidate == state else 0)
        if time.monotonic() - self._gauges_at < GAUGE_SECONDS:
            return
        async with self._db.reading() as uow:
            counts = await uow.console.delivery_counts()
            open_items = await uow.console.open_discrepancies()
        metrics.EVENT_BACKLOG.set(counts["pending"])
        metrics.EVENT_DEAD_LETTERS.set(counts["dead"])
        for channel in self._recon_channels | set(open_items):  # a channel back to none shows 0
            metrics.RECON_OPEN_DISCREPANCIES.labels(channel).set(open_items.get(channel, 0))
        self._recon_channels |= set(open_items)
        self._gauges_at = time.monotonic()

    async def figures(self, minutes: int = 60, *, now: datetime | None = None) -> dict[str, Any]:
        if minutes not in WINDOWS:
            raise RequestError(f"minutes is one of {', '.join(map(str, WINDOWS))}")
        now = now or utc_now()
        since = now - timedelta(minutes=minutes)
        step = timedelta(minutes=minutes) / BUCKETS
        async with self._db.reading() as uow:
            trades = await uow.console.trade_rows(since, MAX_ROWS)
            attempts = await uow.console.attempt_rows(since, MAX_ROWS)
            backlog = await uow.console.delivery_counts()

        def bucket(at: datetime) -> int:
            return min(BUCKETS - 1, max(0, int((at - since) / step)))

        volume: dict[str, list[int]] = defaultdict(lambda: [0] * BUCKETS)
        paid: dict[str, list[int]] = defaultdict(lambda: [0] * BUCKETS)
        amount: dict[str, list[int]] = defaultdict(lambda: [0] * BUCKETS)  # "pay_type currency"
        totals: dict[str, dict[str, Any]] = {}
        for row in trades:
            label, b = row["pay_type"], bucket(row["created_at"])
            volume[label][b] += 1
            total = totals.setdefault(
                label,
                {
                    "pay_type": label,
                    "channel": row["channel"],
                    "trades": 0,
                    "succeeded": 0,
                    "failed": 0,
                    "open": 0,
                    "amounts": {},
                },
            )
            total["trades"] += 1
            state = TradeState(row["state"])
            if state is TradeState.SUCCEEDED:
                paid[label][b] += 1
                amount[f"{label} {row['currency']}"][b] += row["amount"]
                total["succeeded"] += 1
                total["amounts"][row["currency"]] = total["amounts"].get(row["currency"], 0) + row["amount"]
            elif state in (TradeState.FAILED, TradeState.CLOSED):
                total["failed"] += 1
            else:
                total["open"] += 1
        for total in totals.values():
            total["success_rate"] = round(100 * total["succeeded"] / total["trades"], 1)
        latencies: dict[str, list[list[float]]] = defaultdict(lambda: [[] for _ in range(BUCKETS)])
        for row in attempts:
            if AttemptStatus(row["status"]) in (AttemptStatus.SENT, AttemptStatus.NOT_SENT):
                continue  # no answer (yet): no latency
            ms = (row["updated_at"] - row["created_at"]).total_seconds() * 1000
            latencies[row["pay_type"]][bucket(row["created_at"])].append(ms)
        step_s = step.total_seconds()
        return {
            "minutes": minutes,
            "t": [int(since.timestamp() + i * step_s) for i in range(BUCKETS)],
            "volume": dict(volume),
            "amount": dict(amount),
            "success_rate": {
                label: [
                    round(100 * p / v, 1) if v else None for p, v in zip(paid[label], counts, strict=True)
                ]
                for label, counts in volume.items()
            },
            "latency_ms": {
                label: [round(statistics.median(ms), 1) if ms else None for ms in per_bucket]
                for label, per_bucket in latencies.items()
            },
            "totals": sorted(totals.values(), key=lambda t: t["pay_type"]),
            "backlog": backlog,
            "truncated": len(trades) >= MAX_ROWS,
        }
