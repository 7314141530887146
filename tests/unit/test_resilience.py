"""R-CH-4: the circuit breaker opens after repeated technical failures, lets one probe
through after the reset time, and closes again when the probe succeeds."""

import pytest

from paygate.channels.contract import ChannelAccount, ChannelBusinessError, ChannelTimeout, Operation
from paygate.channels.resilience import ChannelGuard, CircuitOpen

ACCOUNT = ChannelAccount(
    id=1, channel="alipay", name="a", merchant_id="m", gateway_url="http://x", secrets={}, timeout_seconds=1.0
)


async def ok() -> str:
    return "ok"


async def timeout() -> str:
    raise ChannelTimeout("slow")


async def declined() -> str:
    raise ChannelBusinessError("declined")


async def test_breaker_opens_probes_and_recovers(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("paygate.channels.resilience.time.monotonic", lambda: now[0])
    guard = ChannelGuard(failure_threshold=3, reset_seconds=30)
    for _ in range(3):
        with pytest.raises(ChannelTimeout):
            await guard.call(ACCOUNT, Operation.CREATE, timeout)
    assert guard.is_open(1)
    with pytest.raises(CircuitOpen):
        await guard.call(ACCOUNT, Operation.CREATE, ok)
    now[0] += 31
    assert await guard.call(ACCOUNT, Operation.CREATE, ok) == "ok"  # the probe
    assert not guard.is_open(1)
    assert await guard.call(ACCOUNT, Operation.CREATE, ok) == "ok"


async def test_successes_reset_the_count_and_business_errors_do_not_count() -> None:
    guard = ChannelGuard(failure_threshold=3, reset_seconds=30)
    for _ in range(5):
        with pytest.raises(ChannelTimeout):
            await guard.call(ACCOUNT, Operation.QUERY, timeout)
        with pytest.raises(ChannelBusinessError):
            await guard.call(ACCOUNT, Operation.QUERY, declined)
        await guard.call(ACCOUNT, Operation.QUERY, ok)
    assert not guard.is_open(1)


async def test_the_bulkhead_bounds_calls_in_flight_per_account() -> None:
    """R-CH-4: a hanging account holds at most max_in_flight calls; the next one is refused
    (nothing sent) instead of queueing without end, and other accounts are unaffected."""
    import asyncio

    from paygate.channels.resilience import Overloaded

    guard = ChannelGuard(max_in_flight=2, queue_seconds=0.05)
    release = asyncio.Event()

    async def hang() -> str:
        await release.wait()
        return "late"

    stuck = [asyncio.create_task(guard.call(ACCOUNT, Operation.QUERY, hang)) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(Overloaded):
        await guard.call(ACCOUNT, Operation.QUERY, ok)
    other = ChannelAccount(
        id=2,
        channel="wechatpay",
        name="w",
        merchant_id="m",
        gateway_url="http://y",
        secrets={},
        timeout_seconds=1,
    )
    assert await guard.call(other, Operation.QUERY, ok) == "ok"
    assert not guard.is_open(ACCOUNT.id)  # our own back-pressure is not the channel's failure
    release.set()
    assert await asyncio.gather(*stuck) == ["late", "late"]
    assert await guard.call(ACCOUNT, Operation.QUERY, ok) == "ok"  # slots come back
    assert guard.states() == {"alipay:1": "closed", "wechatpay:2": "closed"}
