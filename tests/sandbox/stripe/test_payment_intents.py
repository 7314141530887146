"""PaymentIntents through the unchanged stripe SDK, over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from .conftest import CARD_ONLY, SESSION, Env

pytestmark = SESSION

SUCCEEDING = [
    ("pm_card_visa", "visa", "4242"),
    ("pm_card_mastercard", "mastercard", "4444"),
    ("pm_card_amex", "amex", "8431"),
    ("pm_card_visa_debit", "visa", "5556"),
]
DECLINING = [
    ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
    ("pm_card_visa_chargeDeclined", "card_declined", "generic_decline"),
    ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
    ("pm_card_chargeDeclinedLostCard", "card_declined", "lost_card"),
    ("pm_card_chargeDeclinedFraudulent", "card_declined", "fraudulent"),
    ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
    ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc"),
    ("pm_card_chargeDeclinedProcessingError", "processing_error", "processing_error"),
]


def _create(client: stripe.StripeClient, **params: Any) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(params={"amount": 2000, "currency": "usd", **CARD_ONLY, **params})


class TestCreateAndRetrieve:
    async def test_fields_and_object_class(self, env: Env) -> None:
        client = env.client()
        pi = await env.sdk(_create, client, metadata={"order_id": "o1"}, description="Order o1")
        assert isinstance(pi, stripe.PaymentIntent)
        assert pi.id.startswith("pi_") and pi.object == "payment_intent"
        assert pi.status == "requires_payment_method"
        assert (pi.amount, pi.currency, pi.amount_received) == (2000, "usd", 0)
        assert pi.client_secret.startswith(pi.id + "_secret_")
        assert pi.metadata["order_id"] == "o1" and pi.description == "Order o1"
        assert pi.livemode is False and pi.latest_charge is None and pi.next_action is None
        assert pi.payment_method_types == ["card"] and pi.capture_method == "automatic_async"
        again = await env.sdk(client.v1.payment_intents.retrieve, pi.id)
        assert again.to_dict() == pi.to_dict()

    async def test_currency_is_lower_cased_and_defaults_to_automatic_methods(self, env: Env) -> None:
        client = env.client()
        pi = await env.sdk(client.v1.payment_intents.create, params={"amount": 1000, "currency": "EUR"})
        assert pi.currency == "eur"
        assert pi.automatic_payment_methods.enabled is True

    async def test_missing_and_unknown_parameters(self, env: Env) -> None:
        client = env.client()
        with pytest.raises(stripe.InvalidRequestError) as missing:
            await env.sdk(client.v1.payment_intents.create, params={"currency": "usd"})
        assert missing.value.code == "parameter_missing" and missing.value.param == "amount"
        with pytest.raises(stripe.InvalidRequestError) as unknown:
            await env.sdk(_create, client, colour="blue")
        assert unknown.value.code == "parameter_unknown" and unknown.value.param == "colour"
        with pytest.raises(stripe.InvalidRequestError) as not_simulated:
            await env.sdk(_create, client, customer="cus_123")
        assert not_simulated.value.param == "customer"

    async def test_unknown_intent_is_404_resource_missing(self, env: Env) -> None:
        with pytest.raises(stripe.InvalidRequestError) as exc:
            await env.sdk(env.client().v1.payment_intents.retrieve, "pi_nope")
        assert exc.value.http_status == 404 and exc.value.code == "resource_missing"
        assert "No such payment_intent: 'pi_nope'" in str(exc.value.user_message)

    async def test_list_is_newest_first(self, env: Env) -> None:
        client = env.client()
        ids = [(await env.sdk(_create, client)).id for _ in range(3)]
        listed = await env.sdk(client.v1.payment_intents.list, params={"limit": 2})
        assert [p.id for p in listed.data] == ids[::-1][:2] and listed.has_more


class TestAmounts:
    @pytest.mark.parametrize(
        ("currency", "amount", "ok"),
        [
            ("jpy", 50, True),  # zero-decimal: ¥50 minimum
            ("jpy", 49, False),
            ("usd", 50, True),
            ("usd", 49, False),
            ("gbp", 30, True),
            ("kwd", 1000, True),  # three-decimal: 1.000 KWD
            ("kwd", 1005, False),  # last digit must be 0
            ("krw", 500, False),  # converts to less than 50 cents
            ("krw", 1000, True),
            ("isk", 150, False),  # two decimals that must be 00
            ("usd", 100_000_000, False),  # more than eight digits
        ],
    )
    async def test_currency_rules(self, env: Env, currency: str, amount: int, ok: bool) -> None:
        client = env.client()
        call = env.sdk(
            client.v1.payment_intents.create,
            params={"amount": amount, "currency": currency, **CARD_ONLY},
        )
        if ok:
            assert (await call).amount == amount
            return
        with pytest.raises(stripe.InvalidRequestError) as exc:
            await call
        assert exc.value.param == "amount"

    async def test_minimum_message_names_the_currency(self, env: Env) -> None:
        with pytest.raises(stripe.InvalidRequestError) as exc:
            await env.sdk(_create, env.client(), amount=49)
        assert exc.value.code == "amount_too_small"
        assert exc.value.user_message == "Amount must be at least $0.50 usd"

    async def test_jpy_charge_keeps_whole_yen(self, env: Env) -> None:
        pi = await env.sdk(
            env.client().v1.payment_intents.create,
            params={"amount": 1500, "currency": "jpy", "payment_method": "pm_card_visa",
                    "confirm": True, **CARD_ONLY},
        )  # fmt: skip
        assert pi.status == "succeeded" and pi.amount_received == 1500


class TestConfirm:
    @pytest.mark.parametrize(("token", "brand", "last4"), SUCCEEDING)
    async def test_succeeding_cards(self, env: Env, token: str, brand: str, last4: str) -> None:
        client = env.client()
        pi = await env.sdk(_create, client)
        pi = await env.sdk(client.v1.payment_intents.confirm, pi.id, params={"payment_method": token})
        assert pi.status == "succeeded" and pi.amount_received == 2000
        assert pi.payment_method.startswith("pm_") and pi.payment_method != token
        charge = await env.sdk(client.v1.charges.retrieve, pi.latest_charge)
        assert charge.paid and charge.captured and charge.payment_intent == pi.id
        card = charge.payment_method_details.card
        assert (card.brand, card.last4) == (brand, last4)

    @pytest.mark.parametrize(("token", "code", "decline_code"), DECLINING)
    async def test_declining_cards(self, env: Env, token: str, code: str, decline_code: str) -> None:
        client = env.client()
        with pytest.raises(stripe.CardError) as exc:
            await env.sdk(_create, client, payment_method=token, confirm=True)
        error = exc.value
        assert error.http_status == 402 and error.code == code
        assert error.error.decline_code == decline_code
        intent = error.error.payment_intent
        assert intent.status == "requires_payment_method" and intent.payment_method is None
        assert intent.last_payment_error.code == code
        assert intent.last_payment_error.type == "card_error"
        stored = await env.sdk(client.v1.payment_intents.retrieve, intent.id)
        assert stored.last_payment_error.decline_code == decline_code
        charge = await env.sdk(client.v1.charges.retrieve, stored.latest_charge)
        assert charge.status == "failed" and charge.failure_code == code
        retried = await env.sdk(
            client.v1.payment_intents.confirm, intent.id, params={"payment_method": "pm_card_visa"}
        )
        assert retried.status == "succeeded" and retried.last_payment_error is None

    async def test_payment_method_without_confirm_needs_confirmation(self, env: Env) -> None:
        client = env.client()
        pi = await env.sdk(_create, client, payment_method="pm_card_visa")
        assert pi.status == "requires_confirmation"
        pi = await env.sdk(client.v1.payment_intents.confirm, pi.id)
        assert pi.status == "succeeded"

    async def test_confirm_without_a_payment_method(self, env: Env) -> None:
        client = env.client()
        pi = await env.sdk(_create, client)
        with pytest.raises(stripe.InvalidRequestError) as exc:
            await env.sdk(client.v1.payment_intents.confirm, pi.id)
        assert exc.value.code == "payment_intent_unexpected_state"

    async def test_automatic_methods_need_a_return_url(self, env: Env) -> None:
        client = env.client()
        params = {"amount": 2000, "currency": "usd", "payment_method": "pm_card_visa",
                  "confirm": True}  # fmt: skip
        with pytest.raises(stripe.InvalidRequestError) as exc:
            await env.sdk(client.v1.payment_intents.create, params=params)
        assert "return_url" in str(exc.value.user_message)
        never = {**params, "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"}}
        assert (await env.sdk(client.v1.payment_intents.create, params=never)).status == "succeeded"
        with_url = {**params, "return_url": "https://shop.example/done"}
        assert (await env.sdk(client.v1.payment_intents.create, params=with_url)).status == "succeeded"

    async def test_confirming_twice_is_an_unexpected_state(self, env: Env) -> None:
        client = env.client()
        pi = await env.sdk(_create, client, payment_method="pm_card_visa", confirm=True)
        with pytest.raises(stripe.InvalidRequestError) as exc:
            await env.sdk(client.v1.payment_intents.confirm, pi.id)
        assert exc.value.code == "payment_intent_unexpected_state"
        assert exc.value.json_body["error"]["payment_intent"]["status"] == "succeeded"

    async def test_off_session_authentication_required(self, env: Env) -> None:
        with pytest.raises(stripe.CardError) as exc:
            await env.sdk(
                _create, env.client(), payment_method="pm_card_authenticationRequired",
                confirm=True, off_session=True,
            )  # fmt: skip
        assert exc.value.code == "authentication_required"


class TestThreeDSecure:
    @pytest.mark.parametrize("token", ["pm_card_authenticationRequired", "pm_card_threeDSecure2Required"])
    async def test_redirect_then_complete_on_the_page(self, env: Env, token: str) -> None:
        client = env.client()
        pi = await env.sdk(
            _create, client, payment_method=token, confirm=True,
            return_url="https://shop.example/return?o=1",
        )  # fmt: skip
        assert pi.status == "requires_action" and pi.next_action.type == "redirect_to_url"
        url = pi.next_action.redirect_to_url.url
        assert url.startswith(env.root + "/3d_secure_2/hosted?")
        page = await env.http.get(url)
        assert page.status_code == 200 and "Complete" in page.text and "Fail" in page.text
        form = {"payment_intent": pi.id, "source": url.split("source=")[1], "outcome": "pay"}
        done = await env.http.post(env.root + "/3d_secure_2/authenticate", data=form)
        assert done.status_code == 303
        location = done.headers["location"]
        assert location.startswith("https://shop.example/return?o=1&payment_intent=" + pi.id)
        assert "redirect_status=succeeded" in location
        pi = await env.sdk(client.v1.payment_intents.retrieve, pi.id)
        assert pi.status == "succeeded" and pi.next_action is None
        charge = await env.sdk(client.v1.charges.retrieve, pi.latest_charge)
        assert charge.payment_method_details.card.three_d_secure.result == "authenticated"

    async def test_failed_authentication_through_the_control_api(self, env: Env) -> None:
        client = env.client()
        pi = await env.sdk(_create, client, payment_method="pm_card_authenticationRequired", confirm=True)
        assert pi.next_action.type == "use_stripe_sdk"
        url = pi.next_action.use_stripe_sdk.stripe_js
        response = await env.http.post(env.root + "/_sandbox/pay", json={"trade": url, "outcome": "fail"})
        assert response.status_code == 200
        assert response.json()["status"] == "requires_payment_method"
        pi = await env.sdk(client.v1.payment_intents.retrieve, pi.id)
        assert pi.last_payment_error.code == "payment_intent_authentication_failure"
        again = await env.http.post(env.root + "/_sandbox/pay", json={"trade": url, "outcome": "pay"})
        assert again.status_code == 409 and again.json()["error"] == "stale_authentication"

    async def test_authenticated_then_declined(self, env: Env) -> None:
        client = env.client()
        pi = await env.sdk(
            _create, client, confirm=True,
            payment_method="pm_card_authenticationRequiredChargeDeclinedInsufficientFunds",
        )  # fmt: skip
        result = env.sandbox.pay(pi.id, "pay")
        assert result["status"] == "requires_payment_method"
        assert result["last_payment_error"]["decline_code"] == "insufficient_funds"


class TestCancelAndUpdate:
    async def test_cancel_then_cannot_cancel_again(self, env: Env) -> None:
        client = env.client()
        pi = await env.sdk(_create, client)
        pi = await env.sdk(
            client.v1.payment_intents.cancel, pi.id,
            params={"cancellation_reason": "requested_by_customer"},
        )  # fmt: skip
        assert pi.status == "canceled" and pi.cancellation_reason == "requested_by_customer"
        assert pi.canceled_at is not None
        with pytest.raises(stripe.InvalidRequestError) as exc:
            await env.sdk(client.v1.payment_intents.cancel, pi.id)
        assert exc.value.code == "payment_intent_unexpected_state"

    async def test_cannot_cancel_a_succeeded_intent(self, env: Env) -> None:
        client = env.client()
        pi = await env.sdk(_create, client, payment_method="pm_card_visa", confirm=True)
        with pytest.raises(stripe.InvalidRequestError) as exc:
            await env.sdk(client.v1.payment_intents.cancel, pi.id)
        assert exc.value.http_status == 400 and exc.value.code == "payment_intent_unexpected_state"

    async def test_update_amount_and_metadata(self, env: Env) -> None:
        client = env.client()
        pi = await env.sdk(_create, client, metadata={"a": "1", "b": "2"})
        pi = await env.sdk(
            client.v1.payment_intents.update, pi.id,
            params={"amount": 3000, "metadata": {"a": "", "c": "3"}},
        )  # fmt: skip
        assert pi.amount == 3000 and pi.metadata.to_dict() == {"b": "2", "c": "3"}
