"""The harness's faults: the JSON they read, and how :meth:`Faults.around` applies them."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from paygate.sandbox.harness import Faults, FaultSpecError, InjectedFault


def parse_error(spec: Any) -> dict[str, Any]:
    """A channel whose errors are a code (the default ``BUSY``) and an optional text."""
    if isinstance(spec, str):
        spec = {"code": spec}
    if not isinstance(spec, dict) or set(spec) - {"code", "text"}:
        raise ValueError(f"not an error: {spec!r}")
    return {"code": spec.get("code", "BUSY"), "text": spec.get("text", "busy")}


def faults() -> Faults:
    return Faults(parse_error=parse_error, operations={"pay", "query"}, refund_outcomes=("OK", "BAD"))


class TestSpec:
    def test_round_trip(self) -> None:
        f = faults()
        f.update(
            {
                "latency_ms": 5,
                "errors": {"pay": {"code": "X", "times": 2}, "query": "Y"},
                "holds": {"query": 0.5},
                "timeouts": {"pay": {"apply": False}},
                "hangs": {"*": True},
                "notifications": {"drop_next": 1, "duplicate": 2, "reorder_window": 3},
                "refunds": {"outcome": "BAD", "delay_seconds": 60},
                "bills": {
                    "drop": ["A"],
                    "duplicate": ["B"],
                    "amount_delta": {"C": -1},
                    "fee_delta": {"D": 2},
                    "damage": "garble",
                },
            }
        )
        assert f.to_json() == {
            "latency_ms": {"*": 5},
            "errors": {
                "pay": {"code": "X", "text": "busy", "times": 2, "apply": False},
                "query": {"code": "Y", "text": "busy", "times": None, "apply": False},
            },
            "timeouts": {
                "query": {"seconds": 0.5, "apply": True, "times": None},
                "pay": {"seconds": None, "apply": False, "times": None},
            },
            "hangs": {"*": {"times": None}},
            "notifications": {"drop_next": 1, "duplicate": 2, "reorder_window": 3},
            "refunds": {"outcome": "BAD", "delay_seconds": 60.0, "times": None},
            # R-REC-2: discrepancies written into the bills served
            "bills": {
                "drop": ["A"],
                "duplicate": ["B"],
                "late": [],
                "amount_delta": {"C": -1},
                "fee_delta": {"D": 2},
                "damage": "garble",
            },
        }
        f.clear()
        assert f.to_json()["errors"] == {} and f.to_json()["refunds"] is None

    @pytest.mark.parametrize(
        "spec",
        [
            {"earthquake": True},
            {"errors": {"refund": "X"}},  # not an operation of this channel
            {"errors": {"pay": {"colour": "red"}}},  # the channel refuses it
            {"errors": {"pay": {"code": "X", "times": 0}}},
            {"timeouts": {"pay": "soon"}},
            {"timeouts": {"pay": {"seconds": -1}}},
            {"hangs": {"pay": 3}},
            {"latency_ms": -1},
            {"notifications": {"drop": 1}},
            {"refunds": "MAYBE"},
        ],
    )
    def test_a_bad_spec_changes_nothing(self, spec: dict[str, Any]) -> None:
        f = faults()
        f.error("pay", code="KEPT")
        with pytest.raises(FaultSpecError):
            f.update({"latency_ms": 1, **spec})
        assert f.to_json()["latency_ms"] == {} and f.to_json()["errors"]["pay"]["code"] == "KEPT"

    def test_bill_damage_a_channel_cannot_show_is_refused(self) -> None:
        """R-REC-1: Stripe's bill is a JSON answer — nothing to garble or re-encode."""
        f = Faults(parse_error=parse_error, bill_damage=("truncate",))
        f.update({"bills": {"damage": "truncate"}})
        for damage, says in (
            (
                "garble",
                "bills.damage 'garble' means nothing for this channel's bills; it takes truncate, null",
            ),
            ("shred", "bills.damage is truncate, null"),
        ):
            with pytest.raises(FaultSpecError, match=re.escape(says)):
                f.update({"bills": {"damage": damage, "drop": ["A"]}})
        assert f.to_json()["bills"]["damage"] == "truncate" and f.to_json()["bills"]["drop"] == []
        with pytest.raises(ValueError, match="unknown bill damage"):
            Faults(parse_error=parse_error, bill_damage=("shred",))

    def test_counted_faults_run_out(self) -> None:
        f = faults()
        f.drop_notifications(2)
        f.duplicate_notifications(1)
        f.refund_outcome("BAD", times=1)
        assert [f.take_drop() for _ in range(3)] == [True, True, False]
        assert [f.take_duplicate() for _ in range(2)] == [True, False]
        fate = f.take_refund_fate()
        assert fate is not None and fate.outcome == "BAD" and f.take_refund_fate() is None


class TestAround:
    async def test_error_before_the_effect(self) -> None:
        f, done = faults(), []
        f.error("pay", code="NO", times=1)

        async def handle() -> str:
            done.append(1)
            return "ok"

        with pytest.raises(InjectedFault) as exc:
            await f.around("pay", handle)
        assert exc.value.fields == {"code": "NO", "text": "busy"} and done == []
        assert await f.around("pay", handle) == "ok"  # times: 1

    async def test_error_after_the_effect(self) -> None:
        f, done = faults(), []
        f.error("*", apply=True)

        async def handle() -> None:
            done.append(1)

        with pytest.raises(InjectedFault):
            await f.around("query", handle)
        assert done == [1]

    async def test_hold_until_cleared_before_the_effect_never_handles(self) -> None:
        f, done = faults(), []
        f.timeout(None, "pay", apply=False)

        async def handle() -> None:
            done.append(1)

        held = asyncio.create_task(f.around("pay", handle))
        await asyncio.sleep(0.05)
        assert not held.done()
        f.clear()
        with pytest.raises(InjectedFault) as exc:
            await held
        assert exc.value.fields is None and done == []

    async def test_hold_after_the_effect(self) -> None:
        f, done = faults(), []
        f.timeout(0.2, "pay")

        async def handle() -> None:
            done.append(1)

        held = asyncio.create_task(f.around("pay", handle))
        await asyncio.sleep(0.05)
        assert done == [1] and not held.done()
        await asyncio.wait_for(held, 1)

    async def test_a_hang_answers_only_when_let_go(self) -> None:
        f = faults()
        f.hang()

        async def handle() -> None:
            raise AssertionError("a hung request is never handled")

        hung = asyncio.create_task(f.around("query", handle))
        await asyncio.sleep(0.1)
        assert not hung.done()
        f.release()  # what the sandbox's stop() does
        with pytest.raises(InjectedFault):
            await asyncio.wait_for(hung, 1)
