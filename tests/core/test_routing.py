"""Routing (R-CH-3, R-CH-5): an app's bound channel accounts serve its payments, by the
binding's priority; without bindings any enabled account of the channel does."""

from __future__ import annotations

import pytest

from paygate.accounts.channel_accounts import AccountSettings
from paygate.kit.errors import ErrorCode, NotFoundError
from paygate.sdk import PaygateAPIError
from tests.support.helpers import order_no
from tests.support.stack import Stack

BUYER = {"buyer_id": "2088102177846880"}


async def test_bindings_choose_the_account_and_their_priority_orders_them(stack: Stack) -> None:
    demo_account = await stack.container.accounts.find(
        "alipay", stack.sandbox("alipay").credentials()["app_id"]
    )
    assert demo_account is not None
    creds = stack.sandbox("alipay").credentials()
    dead = await stack.container.accounts.add(
        "alipay",
        "unreachable",
        "2021000000000099",
        "http://127.0.0.1:9/gateway.do",  # nothing listens on port 9
        {"app_private_key": creds["app_private_key"], "alipay_public_key": creds["alipay_public_key"]},
        AccountSettings(priority=100),  # preferred among unbound accounts
    )
    # bound to the demo account only: the unreachable one is never tried
    await stack.container.apps.bind("demo", demo_account, priority=1)
    stack.container.router.forget()
    paid = await stack.client.pay(
        out_order_no=order_no("RT"), pay_type="alipay.jsapi", amount=100, subject="R", extra=BUYER
    )
    assert paid["state"] == "pending"
    # bound to both, the unreachable one preferred: it serves (and fails) the payment
    await stack.container.apps.bind("demo", dead, priority=5)
    stack.container.router.forget()
    with pytest.raises(PaygateAPIError) as err:
        await stack.client.pay(
            out_order_no=order_no("RT"), pay_type="alipay.jsapi", amount=100, subject="R", extra=BUYER
        )
    assert err.value.error == "CHANNEL_UNAVAILABLE"


async def test_binding_an_unknown_app_or_account_is_refused(stack: Stack) -> None:
    with pytest.raises(NotFoundError) as err:
        await stack.container.apps.bind("nobody", 1)
    assert err.value.code is ErrorCode.UNKNOWN_APP
    with pytest.raises(NotFoundError) as err:
        await stack.container.apps.bind("demo", 999_999)
    assert err.value.code is ErrorCode.UNKNOWN_CHANNEL
