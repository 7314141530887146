"""What the console shows (R-OPS-2): search by any number, a trade's whole timeline, apps.

The timeline puts on one time line everything paygate recorded about a trade: the app's API
calls (call log), every channel attempt, every state change with the exchange that caused
it (trade log, refunds' too), every inbound channel notification (the inbox), and every
event sent to the app with its deliveries and attempts. Payloads were masked before they were
stored; nothing here reveals a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from paygate.events.console import EventConsole
from paygate.kit.errors import ErrorCode, NotFoundError
from paygate.payments.trade_view import RefundView, TradeView, refund_view, trade_view
from paygate.repositories import Database

__all__ = ["ConsoleReads", "Entry", "Timeline"]

MAX_QUERY: Final = 128


@dataclass(frozen=True)
class Entry:
    """One line of a timeline."""

    at: datetime
    kind: str  # request | attempt | state | notification | event | delivery | refund
    title: str
    detail: Any = None
    ref: str | None = None  # an event id (the line offers a re-send)


@dataclass(frozen=True)
class Timeline:
    trade: TradeView
    refunds: list[RefundView]
    entries: list[Entry]
    events: list[dict[str, Any]]


class ConsoleReads:
    def __init__(self, db: Database, events: EventConsole) -> None:
        self._db = db
        self._events = events

    async def search(self, query: str) -> dict[str, list[Any]]:
        """Trades and refunds any of whose numbers (ours, the app's, the channel's, an
        attempt's) is ``query`` exactly."""
        number = query.strip()[:MAX_QUERY]
        if not number:
            return {"trades": [], "refunds": []}
        async with self._db.reading() as uow:
            trades = [trade_view(t) for t in await uow.console.find_trades(number)]
            refunds = [refund_view(r, t) for r, t in await uow.console.find_refunds(number)]
        return {"trades": trades, "refunds": refunds}

    async def recent(self, limit: int = 20) -> list[TradeView]:
        async with self._db.reading() as uow:
            return [trade_view(t) for t in await uow.console.recent_trades(limit)]

    async def timeline(self, trade_no: str) -> Timeline:
        async with self._db.reading() as uow:
            trade = await uow.trades.by_no(trade_no[:MAX_QUERY])
            if trade is None:
                raise NotFoundError(code=ErrorCode.TRADE_NOT_FOUND)
            refunds = await uow.refunds.for_trade(trade.id)
            logs = await uow.trades.logs(trade.id)
            attempts = await uow.console.attempts(trade.id)
            calls = await uow.console.calls(trade.trade_no)
            inbox = await uow.inbox.for_trade(trade.id)
            outbox = await uow.console.events_of([trade.trade_no, *(r.refund_no for r in refunds)])
        refund_nos = {r.id: r.refund_no for r in refunds}
        entries: list[Entry] = [
            Entry(
                c.created_at,
                "request",
                f"{c.http_method} {c.endpoint} → {c.http_status} errno {c.errno} ({c.duration_ms} ms)",
                {"request": c.request, "response": c.response},
            )
            for c in calls
        ]
        entries += [
            Entry(
                a.created_at,
                "attempt",
                f"attempt {a.attempt_no} to {a.channel} (account {a.channel_account_id}): {a.status}",
                {"channel_trade_no": a.channel_trade_no, "action": a.action},
            )
            for a in attempts
        ]
        for log in logs:
            what = f"refund {refund_nos.get(log.refund_id, '?')}: " if log.refund_id else ""
            moved = f"{log.from_state} → {log.to_state}" if log.from_state else log.to_state
            entries.append(
                Entry(log.created_at, "state", f"{what}{log.event} ({log.source}): {moved}", log.exchange)
            )
        entries += [
            Entry(
                n.received_at,
                "notification",
                f"{n.channel} notification {n.kind or ''}: {n.outcome}"
                + (f" — {n.error}" if n.error else ""),
                n.payload,
            )
            for n in inbox
        ]
        events = [await self._events.show(e.key) for e in outbox]
        for e, shown in zip(outbox, events, strict=True):
            entries.append(
                Entry(
                    e.created_at,
                    "event",
                    f"event {e.topic} {e.key}: delivery {shown['delivery']}",
                    shown["body"],
                    ref=e.key,
                )
            )
            for d in shown["deliveries"]:
                for a in d["attempt_log"]:
                    entries.append(
                        Entry(
                            datetime.fromisoformat(a["at"].replace("Z", "+00:00")),
                            "delivery",
                            f"{e.key} attempt {a['attempt_no']} to {d['url']}: {a['outcome']} "
                            f"{a['http_status'] or ''} ({a['duration_ms']} ms)",
                            {"response": a["response_excerpt"], "error": a["error"]},
                        )
                    )
        entries.sort(key=lambda x: x.at)
        return Timeline(trade_view(trade), [refund_view(r, trade) for r in refunds], entries, events)

    async def apps(self) -> list[dict[str, Any]]:
        """Apps as operators may see them: never a secret, only whether one is set."""
        async with self._db.reading() as uow:
            rows = await uow.console.apps()
        return [
            {
                "app_id": a.app_id,
                "name": a.name,
                "sign_type": a.sign_type,
                "enabled": a.enabled,
                "pay_types": sorted(a.allowed_pay_types or []),
                "notify_url": a.notify_url,
                "webhook_secret": "set" if a.webhook_secret_sealed else "none",
            }
            for a in rows
        ]
