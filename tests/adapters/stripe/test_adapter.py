"""StripeAdapter against the Stripe sandbox over real HTTP: card payments (synchronous,
declined, 3-D Secure), queries, cancels, faults."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from paygate.channels.contract import (
    ActionKind,
    ChannelAdapter,
    ChannelBusinessError,
    ChannelError,
    ChannelTimeout,
    ChannelUnavailable,
    PaymentStatus,
    UnsupportedOperation,
)
from paygate.channels.stripe.client import StripeClient
from paygate.channels.stripe.lookup import Lookup
from paygate.kit.crypto import Secret
from paygate.kit.money import Money
from tests.adapters.stripe.support import Env, card_request, paid, sandbox_account
from tests.support.servers import free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def intents_of(env: Env, attempt_no: str) -> list[dict[str, object]]:
    listed = await env.stripe_get("/v1/payment_intents", limit=100)
    return [pi for pi in listed["data"] if pi["metadata"].get("attempt_no") == attempt_no]


class TestCreate:
    async def test_is_a_channel_adapter(self, env: Env) -> None:
        assert isinstance(env.adapter, ChannelAdapter)
        assert env.adapter.channel == "stripe" and env.adapter.methods == {"card"}

    async def test_visa_succeeds_synchronously(self, env: Env) -> None:
        request = card_request("pm_card_visa", 2000, "USD")
        result = await env.adapter.create_payment(env.account, request)
        assert result.status is PaymentStatus.SUCCEEDED
        assert result.action.kind is ActionKind.NONE
        assert result.paid_amount == Money(2000, "USD") and result.paid_at is not None
        assert result.channel_trade_no and result.channel_trade_no.startswith("pi_")
        # What Stripe holds: our numbers in metadata, the descriptor suffix, one intent.
        (intent,) = await intents_of(env, request.attempt_no)
        assert intent["id"] == result.channel_trade_no
        assert intent["metadata"] == {"attempt_no": request.attempt_no, "trade_no": request.trade_no}
        assert intent["statement_descriptor_suffix"] == "PAYGATE"
        assert intent["currency"] == "usd" and intent["amount"] == 2000
        # The exchange is recorded, masked, with the deterministic idempotency key.
        exchange = result.exchange
        assert exchange is not None and exchange.http_status == 200
        assert exchange.request["idempotency_key"] == f"create:{request.attempt_no}"
        assert exchange.request["params"]["payment_method_types[0]"] == "card"
        assert exchange.request["params"]["metadata[attempt_no]"] == request.attempt_no
        recorded = json.dumps([exchange.request, exchange.response])
        assert env.creds["secret_key"] not in recorded
        assert "_secret_" not in recorded.replace("_secret_***", "")

    async def test_repeating_a_create_replays_it(self, env: Env) -> None:
        request = card_request()
        first = await env.adapter.create_payment(env.account, request)
        again = await env.adapter.create_payment(env.account, request)
        assert again.channel_trade_no == first.channel_trade_no
        assert again.exchange is not None and again.exchange.request.get("replayed") is True
        assert len(await intents_of(env, request.attempt_no)) == 1

    async def test_decline_is_a_final_business_error(self, env: Env) -> None:
        request = card_request("pm_card_chargeDeclined")
        with pytest.raises(ChannelBusinessError) as exc:
            await env.adapter.create_payment(env.account, request)
        assert exc.value.code == "card_declined" and exc.value.sub_code == "generic_decline"
        assert exc.value.exchange is not None and exc.value.exchange.http_status == 402
        assert "_secret_" not in json.dumps(exc.value.exchange.response).replace("_secret_***", "")
        # The intent exists, failed: a query without its id finds it by attempt number.
        status = await env.adapter.query_payment(env.account, request.attempt_no)
        assert status.status is PaymentStatus.FAILED
        assert status.channel_status == "requires_payment_method (generic_decline)"

    async def test_insufficient_funds_decline_code(self, env: Env) -> None:
        with pytest.raises(ChannelBusinessError) as exc:
            await env.adapter.create_payment(
                env.account, card_request("pm_card_chargeDeclinedInsufficientFunds")
            )
        assert (exc.value.code, exc.value.sub_code) == ("card_declined", "insufficient_funds")

    async def test_three_d_secure_redirect_then_paid(self, env: Env) -> None:
        request = card_request("pm_card_authenticationRequired", 4200, "EUR")
        result = await env.adapter.create_payment(env.account, request)
        assert result.status is PaymentStatus.PAYING
        assert result.action.kind is ActionKind.REDIRECT and result.action.method == "GET"
        assert result.action.url and "3d_secure_2" in result.action.url
        intent_id = result.channel_trade_no
        assert intent_id is not None
        (intent,) = await intents_of(env, request.attempt_no)
        # The return URL keeps the merchant's query and names our attempt.
        returned = urlsplit(intent["next_action"]["redirect_to_url"]["return_url"])  # type: ignore[index]
        assert parse_qs(returned.query) == {"shop": ["1"], "attempt_no": [request.attempt_no]}
        pending = await env.adapter.query_payment(env.account, request.attempt_no, intent_id)
        assert pending.status is PaymentStatus.PAYING and pending.channel_status == "requires_action"
        await env.pay(result.action.url, "pay")  # the payer completes 3-D Secure
        done = await env.adapter.query_payment(env.account, request.attempt_no, intent_id)
        assert done.status is PaymentStatus.SUCCEEDED
        assert done.amount == Money(4200, "EUR") and done.paid_at is not None

    async def test_three_d_secure_failed_is_failed(self, env: Env) -> None:
        request = card_request("pm_card_authenticationRequired")
        result = await env.adapter.create_payment(env.account, request)
        assert result.channel_trade_no
        await env.pay(result.channel_trade_no, "fail")
        status = await env.adapter.query_payment(env.account, request.attempt_no, result.channel_trade_no)
        assert status.status is PaymentStatus.FAILED

    async def test_without_a_return_url_stripe_js_handles_the_challenge(self, env: Env) -> None:
        account = sandbox_account(env.creds, return_url="")
        result = await env.adapter.create_payment(account, card_request("pm_card_authenticationRequired"))
        assert result.action.kind is ActionKind.JSAPI and result.action.params is not None
        assert result.action.params["payment_intent"] == result.channel_trade_no
        assert str(result.action.params["client_secret"]).startswith(f"{result.channel_trade_no}_secret_")

    @pytest.mark.parametrize(("currency", "amount"), [("JPY", 500), ("KWD", 1230), ("USD", 1999)])
    async def test_currencies_round_trip(self, env: Env, currency: str, amount: int) -> None:
        request, intent_id = await paid(env, amount, currency)
        (intent,) = await intents_of(env, request.attempt_no)
        assert (intent["amount"], intent["currency"]) == (amount, currency.lower())
        status = await env.adapter.query_payment(env.account, request.attempt_no, intent_id)
        assert status.amount == Money(amount, currency)

    async def test_validation(self, env: Env) -> None:
        adapter = env.adapter
        with pytest.raises(ValueError, match="payment_method"):
            adapter.validate(card_request(extra={}))
        with pytest.raises(ValueError, match="last digit is 0"):
            adapter.validate(card_request(amount=1234, currency="KWD"))
        with pytest.raises(UnsupportedOperation):
            adapter.validate(card_request(method="qr"))
        adapter.validate(card_request(amount=1230, currency="KWD"))


class TestQueryAndClose:
    async def test_query_unknown_id_is_not_found(self, env: Env) -> None:
        status = await env.adapter.query_payment(env.account, "P1", "pi_doesnotexist")
        assert status.status is PaymentStatus.NOT_FOUND

    async def test_query_without_id_finds_by_attempt_or_not(self, env: Env) -> None:
        request, intent_id = await paid(env)
        found = await env.adapter.query_payment(env.account, request.attempt_no)
        assert found.status is PaymentStatus.SUCCEEDED and found.channel_trade_no == intent_id
        missing = await env.adapter.query_payment(env.account, "Pnever")
        assert missing.status is PaymentStatus.NOT_FOUND

    async def test_query_without_id_beyond_the_scan_is_a_clear_error(self, env: Env) -> None:
        request, _ = await paid(env)
        await paid(env)  # a newer intent: a one-object scan no longer reaches ours
        lookup = Lookup(StripeClient(env.http), pages=1, page_size=1)
        with pytest.raises(ChannelError, match="pass its Stripe id") as exc:
            await lookup.intent(env.account, request.attempt_no, operation="query")
        assert exc.value.exchange is not None and not isinstance(exc.value, ChannelBusinessError)
        found = await Lookup(StripeClient(env.http), pages=2, page_size=1).intent(
            env.account, request.attempt_no, operation="query"
        )
        assert found.obj is not None and found.obj["metadata"]["attempt_no"] == request.attempt_no

    async def test_query_of_another_attempts_intent_is_refused(self, env: Env) -> None:
        _, intent_id = await paid(env)
        with pytest.raises(ChannelError, match="attempt_no"):
            await env.adapter.query_payment(env.account, "Pother", intent_id)

    async def test_cancel_an_unpaid_intent(self, env: Env) -> None:
        request = card_request("pm_card_authenticationRequired")
        result = await env.adapter.create_payment(env.account, request)
        closed = await env.adapter.close_payment(env.account, request.attempt_no, result.channel_trade_no)
        assert closed.closed
        assert closed.exchange is not None
        assert closed.exchange.request["idempotency_key"] == f"close:{request.attempt_no}:requires_action"
        status = await env.adapter.query_payment(env.account, request.attempt_no, result.channel_trade_no)
        assert status.status is PaymentStatus.CLOSED
        again = await env.adapter.close_payment(env.account, request.attempt_no)  # by attempt number
        assert again.closed

    async def test_cancel_a_paid_intent_is_refused(self, env: Env) -> None:
        request, intent_id = await paid(env)
        with pytest.raises(ChannelBusinessError) as exc:
            await env.adapter.close_payment(env.account, request.attempt_no, intent_id)
        assert exc.value.sub_code == "succeeded"

    async def test_cancel_of_nothing(self, env: Env) -> None:
        assert not (await env.adapter.close_payment(env.account, "Pnothing")).closed
        assert not (await env.adapter.close_payment(env.account, "Pnothing", "pi_missing")).closed


class TestFaults:
    async def test_a_500_is_retried_with_the_same_key_and_charges_once(self, env: Env) -> None:
        await env.faults({"errors": {"payment_intents.create": {"status": 500, "times": 1}}})
        request = card_request()
        result = await env.adapter.create_payment(env.account, request)
        assert result.status is PaymentStatus.SUCCEEDED
        assert result.exchange is not None and result.exchange.request["attempts"] == 2
        assert len(await intents_of(env, request.attempt_no)) == 1

    async def test_a_lost_answer_is_replayed_not_repeated(self, env: Env) -> None:
        # The create takes effect, then Stripe's answer is a 500: the retry (same key) gets
        # the saved answer back.
        await env.faults({"errors": {"payment_intents.create": {"status": 500, "times": 1, "apply": True}}})
        request = card_request()
        result = await env.adapter.create_payment(env.account, request)
        assert result.status is PaymentStatus.SUCCEEDED
        assert result.exchange is not None and result.exchange.request.get("replayed") is True
        assert len(await intents_of(env, request.attempt_no)) == 1

    async def test_should_retry_false_is_honoured(self, env: Env) -> None:
        await env.faults({"errors": {"payment_intents.create": {"status": 500, "should_retry": False}}})
        with pytest.raises(ChannelTimeout) as exc:
            await env.adapter.create_payment(env.account, card_request())
        assert exc.value.exchange is not None and exc.value.exchange.request["attempts"] == 1

    async def test_create_timeout_then_query_by_attempt(self, env: Env) -> None:
        # The create takes effect but its answer never comes: outcome unknown.
        account = sandbox_account(env.creds, timeout_seconds=0.4)
        await env.faults({"timeouts": {"payment_intents.create": {"apply": True}}})
        request = card_request()
        with pytest.raises(ChannelTimeout):
            await env.adapter.create_payment(account, request)
        status = await env.adapter.query_payment(env.account, request.attempt_no)
        assert status.status is PaymentStatus.SUCCEEDED and status.channel_trade_no

    async def test_held_create_that_never_ran(self, env: Env) -> None:
        account = sandbox_account(env.creds, timeout_seconds=0.4)
        await env.faults({"timeouts": {"payment_intents.create": {"apply": False}}})
        request = card_request()
        with pytest.raises(ChannelTimeout):
            await env.adapter.create_payment(account, request)
        status = await env.adapter.query_payment(env.account, request.attempt_no)
        assert status.status is PaymentStatus.NOT_FOUND

    async def test_query_timeout(self, env: Env) -> None:
        _, intent_id = await paid(env)
        account = sandbox_account(env.creds, timeout_seconds=0.3)
        await env.faults({"timeouts": {"payment_intents.retrieve": {}}})
        with pytest.raises(ChannelTimeout):
            await env.adapter.query_payment(account, "P1", intent_id)

    async def test_rate_limited_query_is_unavailable(self, env: Env) -> None:
        await env.faults({"errors": {"payment_intents.retrieve": "rate_limit"}})
        with pytest.raises(ChannelUnavailable) as exc:
            await env.adapter.query_payment(env.account, "P1", "pi_x")
        assert exc.value.code == "rate_limit"

    async def test_bad_key_is_a_configuration_error(self, env: Env) -> None:
        account = sandbox_account(
            env.creds, secrets={"secret_key": Secret("sk_test_wrong"), "webhook_secret": Secret("x")}
        )
        with pytest.raises(ChannelBusinessError) as exc:
            await env.adapter.query_payment(account, "P1", "pi_x")
        assert exc.value.exchange is not None and exc.value.exchange.http_status == 401
        assert "sk_test_wrong" not in json.dumps(exc.value.exchange.request)

    async def test_nothing_listening(self, env: Env) -> None:
        account = sandbox_account(env.creds, gateway_url=f"http://127.0.0.1:{free_port()}/stripe")
        with pytest.raises(ChannelUnavailable) as exc:
            await env.adapter.query_payment(account, "P1", "pi_x")
        assert exc.value.exchange is not None and exc.value.exchange.request["attempts"] == 3
