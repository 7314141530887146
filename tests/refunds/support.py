"""Paid trades to refund, one per channel, paid through the sandboxes as a payer would."""

from __future__ import annotations

from typing import Any

from paygate.sdk import PaygateAPIError
from tests.support.helpers import buyer, eventually, order_no
from tests.support.stack import Stack

#: channel → (pay type, currency, extra inputs)
PAY_TYPES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "alipay": ("alipay.qr", "CNY", {}),
    "wechatpay": ("wechat.native", "CNY", {}),
    "stripe": ("stripe.card", "USD", {"payment_method": "pm_card_visa"}),
}


async def paid_trade(stack: Stack, channel: str = "alipay", amount: int = 1000) -> dict[str, Any]:
    """A trade of ``amount`` the payer paid, once paygate knows it succeeded."""
    pay_type, currency, extra = PAY_TYPES[channel]
    trade = await stack.client.pay(
        out_order_no=order_no("PAID"),
        pay_type=pay_type,
        amount=amount,
        currency=currency,
        subject="S",
        extra=extra,
    )
    if trade["state"] != "succeeded":  # QR forms: the payer scans and pays
        answer = await buyer(stack, channel, trade["action"]["qr_code"])
        assert answer.status_code == 200, answer.text

    async def paid() -> dict[str, Any] | None:
        view = await stack.client.query_trade(trade_no=trade["trade_no"])
        return view if view["state"] == "succeeded" else None

    return await eventually(paid)


async def refund_error(stack: Stack, **fields: Any) -> PaygateAPIError:
    """The error a refund request gets (it must get one)."""
    try:
        await stack.client.refund(**fields)
    except PaygateAPIError as exc:
        return exc
    raise AssertionError(f"the refund was accepted: {fields}")
