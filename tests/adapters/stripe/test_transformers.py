"""Pure mapping: amounts per currency, the exhaustive status maps, request building, answers
checked against requests, events and balance transactions (payloads shaped as Stripe sends
them)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paygate.channels.contract import (
    ActionKind,
    CreatePayment,
    NotificationKind,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
    UnknownChannelStatus,
)
from paygate.channels.stripe.amounts import from_stripe_amount, to_stripe_amount
from paygate.channels.stripe.bill import bill_line
from paygate.channels.stripe.events import notification_from_event, return_info
from paygate.channels.stripe.transformers import (
    ResponseMismatch,
    create_params,
    create_result,
    map_intent_status,
    map_refund_status,
    query_result,
    refund_params,
    refund_result,
    validate_create,
)
from paygate.kit.money import CURRENCY_EXPONENTS, Money, MoneyError

INTENT_STATUSES = {
    "requires_payment_method": PaymentStatus.PENDING,
    "requires_confirmation": PaymentStatus.PENDING,
    "requires_action": PaymentStatus.PAYING,
    "processing": PaymentStatus.PAYING,
    "requires_capture": PaymentStatus.PAYING,
    "canceled": PaymentStatus.CLOSED,
    "succeeded": PaymentStatus.SUCCEEDED,
}
REFUND_STATUSES = {
    "pending": RefundStatus.PROCESSING,
    "requires_action": RefundStatus.PROCESSING,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.FAILED,
}


def request(**overrides: Any) -> CreatePayment:
    values: dict[str, Any] = {
        "attempt_no": "P1",
        "trade_no": "T1",
        "method": "card",
        "amount": Money(2000, "USD"),
        "subject": "Plan",
        "expire_at": datetime(2026, 6, 5, tzinfo=UTC) + timedelta(minutes=30),
        "extra": {"payment_method": "pm_card_visa"},
    }
    values.update(overrides)
    return CreatePayment(**values)


def intent(status: str = "succeeded", **overrides: Any) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "id": "pi_1",
        "object": "payment_intent",
        "amount": 2000,
        "amount_received": 2000 if status == "succeeded" else 0,
        "currency": "usd",
        "status": status,
        "client_secret": "pi_1_secret_s",
        "metadata": {"attempt_no": "P1", "trade_no": "T1"},
        "last_payment_error": None,
        "latest_charge": {"id": "ch_1", "object": "charge", "status": "succeeded", "created": 1_780_000_000,
                          "amount_refunded": 0},
        "next_action": None,
    }  # fmt: skip
    wire.update(overrides)
    return wire


class TestAmounts:
    @given(st.integers(1, 99_999_999))
    def test_usd_and_jpy_are_the_same_number(self, minor: int) -> None:
        for currency in ("USD", "JPY", "EUR", "KRW"):
            money = Money(minor, currency)
            assert to_stripe_amount(money) == minor
            assert from_stripe_amount(minor, currency.lower()) == money

    @given(st.integers(1, 9_999_999))
    def test_kwd_in_thousandths_multiple_of_ten(self, tens: int) -> None:
        money = Money(tens * 10, "KWD")
        assert to_stripe_amount(money) == tens * 10
        assert from_stripe_amount(tens * 10, "kwd") == money

    @given(st.integers(1, 99_999_999).filter(lambda n: n % 10))
    def test_kwd_hundredths_only(self, minor: int) -> None:
        with pytest.raises(MoneyError, match="last digit is 0"):
            to_stripe_amount(Money(minor, "KWD"))

    @given(st.integers(1, 999_999))
    def test_isk_whole_units_times_100(self, minor: int) -> None:
        assert to_stripe_amount(Money(minor, "ISK")) == minor * 100
        assert from_stripe_amount(minor * 100, "isk") == Money(minor, "ISK")

    def test_every_paygate_currency_converts(self) -> None:
        for currency, exponent in CURRENCY_EXPONENTS.items():
            money = Money(10**exponent * 10, currency)
            assert from_stripe_amount(to_stripe_amount(money), currency.lower()) == money

    @pytest.mark.parametrize(
        ("amount", "currency"),
        [(1.5, "usd"), (True, "usd"), ("100", "usd"), (100, "xyz"), (100, None), (150, "isk")],
    )
    def test_answers_that_are_not_money(self, amount: object, currency: object) -> None:
        with pytest.raises(MoneyError):
            from_stripe_amount(amount, currency)


class TestStatusMaps:
    def test_every_intent_status(self) -> None:
        assert {s: map_intent_status(s) for s in INTENT_STATUSES} == INTENT_STATUSES
        assert map_intent_status("requires_payment_method", failed_attempt=True) is PaymentStatus.FAILED
        assert map_intent_status("succeeded", refunded=True) is PaymentStatus.REFUNDED

    def test_every_refund_status(self) -> None:
        assert {s: map_refund_status(s) for s in REFUND_STATUSES} == REFUND_STATUSES

    @pytest.mark.parametrize("word", ["", "requires_source", "SUCCEEDED", "paid"])
    def test_unknown_words_raise(self, word: str) -> None:
        with pytest.raises(UnknownChannelStatus):
            map_intent_status(word)
        with pytest.raises(UnknownChannelStatus):
            map_refund_status(word)


class TestCreate:
    def test_params(self) -> None:
        params = create_params(
            request(description="12 months"), return_url="https://s.example/r?a=1", descriptor_suffix="PG"
        )
        assert params == {
            "amount": 2000,
            "currency": "usd",
            "payment_method_types": ["card"],
            "payment_method": "pm_card_visa",
            "confirm": True,
            "description": "Plan — 12 months",
            "metadata": {"attempt_no": "P1", "trade_no": "T1"},
            "expand": ["latest_charge"],
            "return_url": "https://s.example/r?a=1&attempt_no=P1",
            "statement_descriptor_suffix": "PG",
        }
        assert "return_url" not in create_params(request(), return_url="")

    @pytest.mark.parametrize(
        "overrides",
        [
            {"extra": {}},
            {"extra": {"payment_method": "4242424242424242"}},
            {"amount": Money(0, "USD")},
            {"amount": Money(100_000_000, "USD")},
            {"amount": Money(1005, "BHD")},
            {"attempt_no": "P 1"},
            {"subject": " "},
            {"expire_at": datetime(2026, 6, 5)},
        ],
    )
    def test_validation(self, overrides: dict[str, Any]) -> None:
        with pytest.raises(ValueError):
            validate_create(request(**overrides))

    def test_succeeded(self) -> None:
        result = create_result(intent(), request())
        assert result.status is PaymentStatus.SUCCEEDED and result.action.kind is ActionKind.NONE
        assert result.paid_amount == Money(2000, "USD") and result.channel_trade_no == "pi_1"
        assert result.paid_at == datetime.fromtimestamp(1_780_000_000, UTC)

    def test_requires_action(self) -> None:
        url = "https://hooks.stripe.com/3d_secure_2/hosted?x=1"
        wire = intent(
            "requires_action", next_action={"type": "redirect_to_url", "redirect_to_url": {"url": url}}
        )
        result = create_result(wire, request())
        assert result.status is PaymentStatus.PAYING
        assert (result.action.kind, result.action.url, result.action.method) == (
            ActionKind.REDIRECT,
            url,
            "GET",
        )
        sdk = intent("requires_action", next_action={"type": "use_stripe_sdk", "use_stripe_sdk": {}})
        action = create_result(sdk, request()).action
        assert action.kind is ActionKind.JSAPI and action.params == {
            "payment_intent": "pi_1",
            "client_secret": "pi_1_secret_s",
        }
        with pytest.raises(UnknownChannelStatus):
            create_result(
                intent("requires_action", next_action={"type": "alipay_handle_redirect"}), request()
            )

    def test_processing_is_paying(self) -> None:
        result = create_result(intent("processing", latest_charge="ch_1"), request())
        assert result.status is PaymentStatus.PAYING and result.paid_amount is None

    @pytest.mark.parametrize(
        "overrides",
        [
            {"amount": 200},
            {"currency": "eur"},
            {"amount_received": 1999},
            {"metadata": {"attempt_no": "P2"}},
            {"metadata": {}},
            {"object": "charge"},
            {"id": None},
        ],
    )
    def test_answers_contradicting_the_request(self, overrides: dict[str, Any]) -> None:
        with pytest.raises(ResponseMismatch):
            create_result(intent(**overrides), request())

    def test_query(self) -> None:
        declined = intent(
            "requires_payment_method",
            last_payment_error={"code": "card_declined", "decline_code": "lost_card"},
            latest_charge="ch_1",
        )
        result = query_result(declined, "P1")
        assert (
            result.status is PaymentStatus.FAILED
            and result.channel_status == "requires_payment_method (lost_card)"
        )
        refunded = intent()
        refunded["latest_charge"]["amount_refunded"] = 500
        assert query_result(refunded, "P1").status is PaymentStatus.REFUNDED
        assert query_result(intent("canceled", latest_charge=None), "P1").status is PaymentStatus.CLOSED


class TestRefunds:
    def refund_request(self, amount: int, currency: str = "USD", total: int = 2000) -> RefundRequest:
        return RefundRequest(
            "R1", "P1", "pi_1", Money(amount, currency), Money(total, currency), reason="broken"
        )

    def test_params(self) -> None:
        assert refund_params(self.refund_request(500), "pi_1") == {
            "payment_intent": "pi_1",
            "amount": 500,
            "metadata": {"refund_no": "R1", "attempt_no": "P1", "reason": "broken"},
        }
        for bad in (self.refund_request(0), self.refund_request(2001), self.refund_request(15, "KWD")):
            with pytest.raises(ValueError):
                refund_params(bad, "pi_1")

    def test_result(self) -> None:
        wire = {
            "id": "re_1",
            "object": "refund",
            "amount": 500,
            "currency": "usd",
            "status": "succeeded",
            "created": 1_780_000_100,
            "payment_intent": "pi_1",
            "metadata": {"refund_no": "R1", "attempt_no": "P1"},
        }
        result = refund_result(wire, "R1", amount=Money(500, "USD"), intent_id="pi_1")
        assert (result.status, result.channel_refund_no, result.amount) == (
            RefundStatus.SUCCEEDED,
            "re_1",
            Money(500, "USD"),
        )
        assert result.refunded_at == datetime.fromtimestamp(1_780_000_100, UTC)
        pending = refund_result({**wire, "status": "pending"}, "R1")
        assert pending.status is RefundStatus.PROCESSING and pending.refunded_at is None
        for bad in ({"amount": 400}, {"payment_intent": "pi_2"}, {"metadata": {"refund_no": "R9"}}):
            with pytest.raises(ResponseMismatch):
                refund_result({**wire, **bad}, "R1", amount=Money(500, "USD"), intent_id="pi_1")


def event(event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "evt_1",
        "object": "event",
        "type": event_type,
        "created": 1_780_000_200,
        "livemode": False,
        "data": {"object": obj},
    }


class TestEvents:
    @pytest.mark.parametrize(
        ("event_type", "wire", "expected"),
        [
            ("payment_intent.succeeded", intent(), PaymentStatus.SUCCEEDED),
            (
                "payment_intent.payment_failed",
                intent("requires_payment_method", last_payment_error={"code": "card_declined"}),
                PaymentStatus.FAILED,
            ),
            ("payment_intent.canceled", intent("canceled", latest_charge=None), PaymentStatus.CLOSED),
            ("payment_intent.processing", intent("processing", latest_charge="ch_1"), PaymentStatus.PAYING),
            (
                "payment_intent.requires_action",
                intent("requires_action", latest_charge=None),
                PaymentStatus.PAYING,
            ),
        ],
    )
    def test_payment_events(self, event_type: str, wire: dict[str, Any], expected: PaymentStatus) -> None:
        note = notification_from_event(event(event_type, wire))
        assert note.kind is NotificationKind.PAYMENT and note.payment_status is expected
        assert (note.attempt_no, note.channel_trade_no, note.amount) == ("P1", "pi_1", Money(2000, "USD"))
        assert note.occurred_at == datetime.fromtimestamp(1_780_000_200, UTC)
        assert note.payload["data"]["object"]["client_secret"] == "***"

    def test_refund_events(self) -> None:
        refund = {"id": "re_1", "object": "refund", "amount": 700, "currency": "jpy", "status": "failed",
                  "payment_intent": "pi_1", "metadata": {"refund_no": "R1", "attempt_no": "P1"}}  # fmt: skip
        note = notification_from_event(event("refund.failed", refund))
        assert note.kind is NotificationKind.REFUND and note.refund_status is RefundStatus.FAILED
        assert (note.refund_no, note.attempt_no, note.amount) == ("R1", "P1", Money(700, "JPY"))
        charge = {"id": "ch_1", "object": "charge", "amount": 2000, "currency": "usd", "amount_refunded": 700,
                  "payment_intent": "pi_1", "metadata": {"attempt_no": "P1"}}  # fmt: skip
        refunded = notification_from_event(event("charge.refunded", charge))
        assert refunded.kind is NotificationKind.PAYMENT and refunded.payment_status is PaymentStatus.REFUNDED

    def test_others_are_acknowledged(self) -> None:
        for note in (
            notification_from_event(event("payment_intent.created", intent("requires_confirmation"))),
            notification_from_event(event("charge.succeeded", {"id": "ch_1", "object": "charge"})),
            notification_from_event(event("payout.paid", {"id": "po_1", "object": "payout"})),
            notification_from_event(event("payment_intent.succeeded", intent(metadata={}))),  # not ours
            notification_from_event(
                event("refund.created", {"id": "re_1", "object": "refund", "metadata": {}})
            ),
        ):
            assert note.kind is NotificationKind.OTHER and note.notification_id == "evt_1"

    def test_unusable(self) -> None:
        broken = event("payment_intent.succeeded", intent())
        del broken["data"]
        with pytest.raises(ValueError):
            notification_from_event(broken)
        with pytest.raises(UnknownChannelStatus):
            notification_from_event(event("payment_intent.succeeded", intent("teleported")))

    def test_return(self) -> None:
        query = {
            "payment_intent": "pi_1",
            "payment_intent_client_secret": "s",
            "redirect_status": "succeeded",
        }
        assert return_info({**query, "attempt_no": "P1"}).attempt_no == "P1"
        assert return_info(query).verified is False


BT = {
    "id": "txn_1",
    "object": "balance_transaction",
    "amount": 1850,
    "currency": "usd",
    "created": 1_780_000_300,
    "exchange_rate": 0.925,
    "fee": 84,
    "net": 1766,
    "status": "pending",
    "type": "charge",
    "source": {"id": "ch_1", "object": "charge", "amount": 2000, "amount_captured": 2000, "currency": "eur",
               "payment_intent": "pi_1", "metadata": {"attempt_no": "P1"}},
}  # fmt: skip


class TestBillLines:
    def test_charge_in_another_settlement_currency(self) -> None:
        line = bill_line(BT)
        assert line is not None and line.kind == "payment"
        assert line.amount == Money(2000, "EUR") and line.fee == Money(84, "USD")
        assert (line.channel_trade_no, line.attempt_no, line.refund_no) == ("pi_1", "P1", None)
        assert line.raw["amount"] == "1850" and line.raw["exchange_rate"] == "0.925"

    def test_refund_and_refund_failure(self) -> None:
        source = {"id": "re_1", "object": "refund", "amount": 500, "currency": "usd",
                  "payment_intent": "pi_1", "metadata": {"refund_no": "R1", "attempt_no": "P1"}}  # fmt: skip
        for kind_word, kind in (("refund", "refund"), ("refund_failure", "refund_failure")):
            line = bill_line({**BT, "type": kind_word, "amount": -500, "fee": 0, "source": source})
            assert line is not None and line.kind == kind and line.refund_no == "R1"
            assert line.amount == Money(500, "USD") and line.fee == Money(0, "USD")

    def test_skipped_unknown_and_unexpanded(self) -> None:
        assert bill_line({**BT, "type": "payout", "source": "po_1"}) is None
        with pytest.raises(UnknownChannelStatus):
            bill_line({**BT, "type": "teleport"})
        with pytest.raises(ResponseMismatch):
            bill_line({**BT, "source": "ch_1"})
        odd_fee = copy.deepcopy(BT)
        odd_fee["currency"], odd_fee["fee"] = "isk", 1450
        line = bill_line(odd_fee)
        assert line is not None and line.fee is None and line.raw["fee"] == "1450"
