"""The sandbox serves requests concurrently: many at once, and a slow (held) request
does not block others — the SDK in certificate mode fetches ``/v3/certificates`` while
its first request is still being answered."""

from __future__ import annotations

import asyncio
import json

from .conftest import Env, SdkFactory, sdk


async def test_many_requests_at_once(env: Env) -> None:
    client = env.client()
    orders = [f"MANY-{i:05d}" for i in range(40)]
    created = await asyncio.gather(*(client.pay(out_trade_no=o) for o in orders))
    assert all(r.status_code == 200 and client.verified(r) for r in created)
    for o in orders[::2]:
        env.sandbox.pay(o)
    mchid = env.creds["mchid"]
    queried = await asyncio.gather(
        *(client.request("GET", f"/v3/pay/transactions/out-trade-no/{o}?mchid={mchid}") for o in orders)
    )
    states = [r.json()["trade_state"] for r in queried]
    assert states == ["SUCCESS" if i % 2 == 0 else "NOTPAY" for i in range(40)]


async def test_a_held_request_does_not_block_the_sdk(env: Env, make_sdk: SdkFactory) -> None:
    client = env.client()
    await client.pay(out_trade_no="SLOW-00001")
    env.sandbox.set_faults(holds={"query": {"seconds": 1.0, "times": 1}})
    slow = asyncio.create_task(
        client.request("GET", f"/v3/pay/transactions/out-trade-no/SLOW-00001?mchid={env.creds['mchid']}")
    )
    await asyncio.sleep(0.05)
    wx = make_sdk(env.creds, "certificate")  # must fetch the certificate mid-request
    code, text = await sdk(wx.pay, description="d", out_trade_no="FAST-00001", amount={"total": 1})
    assert code == 200 and json.loads(text)["code_url"]
    assert not slow.done()
    assert (await slow).status_code == 200


async def test_sdk_threads_in_parallel(env: Env, make_sdk: SdkFactory) -> None:
    wx = make_sdk(env.creds, "public_key")
    results = await asyncio.gather(
        *(
            sdk(wx.pay, description="并发", out_trade_no=f"THREAD-{i:04d}", amount={"total": 1 + i})
            for i in range(8)
        )
    )
    assert [code for code, _ in results] == [200] * 8
