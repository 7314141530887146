"""Flows through the sandboxes, and the day's bill reconciled."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from paygate.domain.reconciliation import DiscrepancyState
from paygate.models import Discrepancy, ReconRun, Trade
from paygate.reconciliation.running import RunOutcome
from tests.support.helpers import buyer, eventually, order_no, rows
from tests.support.stack import Stack

BEIJING = timezone(timedelta(hours=8))
#: how far each sandbox's clock must move for today's bill to exist
BILL_READY = {"alipay": 86400 + 60, "wechatpay": 86400 + 11 * 3600, "stripe": 86400 + 60}


async def account_id(stack: Stack, channel: str) -> int:
    [account] = await stack.container.accounts.enabled_for(channel)
    return account.id


#: channel → (pay type, currency, extra inputs) of a trade its payer completes at the sandbox
PAYER_FLOWS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "alipay": ("alipay.qr", "CNY", {}),
    "wechatpay": ("wechat.native", "CNY", {}),
    "stripe": ("stripe.card", "USD", {"payment_method": "pm_card_authenticationRequired"}),
}


async def qr_trade(stack: Stack, channel: str = "alipay", amount: int = 1000) -> dict[str, Any]:
    """A trade waiting for its payer: a QR code to scan, or (Stripe) 3-D Secure to complete."""
    pay_type, currency, extra = PAYER_FLOWS[channel]
    return await stack.client.pay(
        out_order_no=order_no("REC"),
        pay_type=pay_type,
        amount=amount,
        currency=currency,
        subject="R",
        extra=extra,
    )


def payer_link(trade: dict[str, Any]) -> str:
    """What the payer opens: the QR code's link, or the 3-D Secure page."""
    action: dict[str, Any] = trade["action"]
    return str(action.get("qr_code") or action["url"])


async def state_of(stack: Stack, trade_no: str, state: str) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        view = await stack.client.query_trade(trade_no=trade_no)
        return view if view["state"] == state else None

    result: dict[str, Any] = await eventually(reached)
    return result


async def paid(stack: Stack, channel: str = "alipay", amount: int = 1000) -> dict[str, Any]:
    trade = await qr_trade(stack, channel, amount)
    assert (await buyer(stack, channel, payer_link(trade))).status_code == 200
    return await state_of(stack, trade["trade_no"], "succeeded")


async def paid_unnoticed(stack: Stack, channel: str = "alipay", amount: int = 1000) -> dict[str, Any]:
    """Paid at the channel, its notifications lost (all of them, from now on: later flows of
    the test are not told either): pending at paygate."""
    trade = await qr_trade(stack, channel, amount)
    stack.sandbox(channel).faults.drop_notifications(1000)
    assert (await buyer(stack, channel, payer_link(trade))).status_code == 200
    await eventually(lambda: _attempted(stack, channel, trade))
    view = await stack.client.query_trade(trade_no=trade["trade_no"])
    assert view["state"] != "succeeded"
    return trade


async def _attempted(stack: Stack, channel: str, trade: dict[str, Any]) -> bool:
    return any(d.attempts for d in stack.sandbox(channel).notifications)


def bill_day(view: dict[str, Any], channel: str = "alipay") -> date:
    moment = datetime.fromisoformat(str(view["paid_at"]).replace("Z", "+00:00"))
    return (moment.astimezone(BEIJING) if channel != "stripe" else moment).date()


async def reconcile(stack: Stack, channel: str, day: date, *, advance: bool = True, **kw: Any) -> RunOutcome:
    if advance:
        stack.sandbox(channel).advance_clock(BILL_READY[channel])
    return await stack.container.reconciler.run(await account_id(stack, channel), day, **kw)


async def discrepancies(stack: Stack, run_id: int) -> list[Discrepancy]:
    return await rows(stack, Discrepancy, Discrepancy.run_id == run_id)


def by_kind(found: list[Discrepancy], state: DiscrepancyState | None = None) -> dict[str, list[Discrepancy]]:
    out: dict[str, list[Discrepancy]] = {}
    for d in found:
        if state is None or d.state == state:
            out.setdefault(d.kind.value, []).append(d)
    return out


async def run_row(stack: Stack, run_id: int) -> ReconRun:
    [run] = await rows(stack, ReconRun, ReconRun.id == run_id)
    return run


async def trade_row(stack: Stack, trade_no: str) -> Trade:
    [row] = await rows(stack, Trade, Trade.trade_no == trade_no)
    return row
