"""The read-mostly resources: payment methods, charges, events, balance, balance
transactions, payouts and webhook endpoints."""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from paygate.kit.crypto import Secret

from .account import Account
from .balance import BalanceTransaction, Payout, balance_wire
from .charges import Charge
from .errors import StripeError, invalid_param, missing_param, resource_missing
from .events import Event, WebhookEndpoint
from .ids import new_id, now
from .methods import CARDS, PaymentMethod
from .params import Params
from .store import R, list_response

__all__ = [
    "create_webhook_endpoint",
    "delete_webhook_endpoint",
    "get_balance",
    "list_balance_transactions",
    "list_charges",
    "list_events",
    "list_payouts",
    "list_webhook_endpoints",
    "retrieve",
    "update_webhook_endpoint",
]

_EVENT_TYPE = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")
_PAGING = frozenset({"limit", "starting_after", "ending_before", "created"})
_NAMES = {
    PaymentMethod: "PaymentMethod",
    Charge: "charge",
    Event: "event",
    BalanceTransaction: "balance_transaction",
    Payout: "payout",
    WebhookEndpoint: "webhook_endpoint",
}


def get(account: Account, ident: str, kind: type[R]) -> R:
    record = account.store.typed(ident, kind)
    if record is None:
        raise resource_missing(_NAMES.get(kind, kind.__name__.lower()), ident, "id")
    return record


def retrieve(account: Account, params: Params, ident: str, kind: type[R]) -> dict[str, Any]:
    params.check(())
    if kind is PaymentMethod and ident in CARDS:
        return account.store.add(PaymentMethod.from_token(ident)).to_wire()
    return get(account, ident, kind).to_wire()


# -- charges ----------------------------------------------------------------------------


def list_charges(account: Account, params: Params) -> dict[str, Any]:
    params.check(_PAGING | {"payment_intent"}, stripe_only={"customer", "transfer_group"})
    intent = params.string("payment_intent")
    items = [c for c in account.store.all(Charge) if intent is None or c.payment_intent == intent]
    return list_response(account.store, params, "/v1/charges", items, "charge")


# -- events -------------------------------------------------------------------------------


def _type_matches(pattern: str, event_type: str) -> bool:
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def list_events(account: Account, params: Params) -> dict[str, Any]:
    params.check(_PAGING | {"type", "types", "delivery_success"})
    single = params.string("type")
    many = params.string_list("types")
    if single is not None and many is not None:
        raise StripeError(
            400,
            "invalid_request_error",
            "You may only specify one of these parameters: type, types.",
            code="parameters_exclusive",
            param="types",
            saved=False,
        )
    patterns = [single] if single is not None else many
    delivered = params.boolean("delivery_success")
    items = [
        e
        for e in account.store.all(Event)
        if (patterns is None or any(_type_matches(p, e.type) for p in patterns))
        and (delivered is None or e.delivered == delivered)
    ]
    return list_response(account.store, params, "/v1/events", items, "event")


# -- balance, balance transactions, payouts ------------------------------------------------


def get_balance(account: Account, params: Params) -> dict[str, Any]:
    params.check(())
    return balance_wire(account.store.all(BalanceTransaction))


def list_balance_transactions(account: Account, params: Params) -> dict[str, Any]:
    params.check(_PAGING | {"payout", "type", "source", "currency"})
    payout = params.string("payout")
    kind = params.string("type")
    source = params.string("source")
    currency = params.string("currency")
    if payout is not None:
        found = account.store.typed(payout, Payout)
        if found is None:
            raise resource_missing("payout", payout, "payout", status=400)
    items = [
        bt
        for bt in account.store.all(BalanceTransaction)
        if (payout is None or bt.payout_id == payout)
        and (kind is None or bt.type == kind)
        and (source is None or bt.source == source)
        and (currency is None or bt.currency == currency.lower())
    ]
    return list_response(account.store, params, "/v1/balance_transactions", items, "balance_transaction")


def list_payouts(account: Account, params: Params) -> dict[str, Any]:
    params.check(_PAGING | {"status", "arrival_date"}, stripe_only={"destination"})
    status = params.choice("status", ("pending", "paid", "failed", "canceled"))
    items = [p for p in account.store.all(Payout) if status is None or p.status == status]
    return list_response(account.store, params, "/v1/payouts", items, "payout")


# -- webhook endpoints -----------------------------------------------------------------------


def _url(params: Params, required: bool) -> str | None:
    url = params.string("url", required=required)
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise invalid_param(f"Invalid URL: {url}", "url", "url_invalid")
    return url


def _enabled_events(params: Params, required: bool) -> list[str] | None:
    events = params.string_list("enabled_events")
    if events is None:
        if required:
            raise missing_param("enabled_events")
        return None
    for i, name in enumerate(events):
        if name != "*" and not _EVENT_TYPE.match(name):
            raise invalid_param(
                f"Invalid enabled_events[{i}]: must be '*' or an event type such as "
                f"'payment_intent.succeeded' (got {name!r})",
                f"enabled_events[{i}]",
            )
    return events


def add_webhook_endpoint(
    account: Account, url: str, events: list[str], secret: Secret, description: str | None = None
) -> WebhookEndpoint:
    return account.store.add(
        WebhookEndpoint(
            id=new_id("we"),
            created=now(),
            url=url,
            enabled_events=events,
            secret=secret,
            description=description,
        )
    )


def create_webhook_endpoint(account: Account, params: Params) -> dict[str, Any]:
    params.check(
        {"url", "enabled_events", "description", "metadata", "api_version"},
        stripe_only={"connect"},
    )
    url = _url(params, required=True)
    events = _enabled_events(params, required=True)
    assert url is not None and events is not None
    endpoint = add_webhook_endpoint(
        account, url, events, Secret("whsec_" + secrets.token_hex(32)), params.string("description")
    )
    endpoint.metadata = params.metadata() or {}
    endpoint.api_version = params.string("api_version")
    return endpoint.to_wire(with_secret=True)


def update_webhook_endpoint(account: Account, params: Params, ident: str) -> dict[str, Any]:
    params.check({"url", "enabled_events", "description", "metadata", "disabled"})
    endpoint = get(account, ident, WebhookEndpoint)
    url = _url(params, required=False)
    events = _enabled_events(params, required=False)
    disabled = params.boolean("disabled")
    if url is not None:
        endpoint.url = url
    if events is not None:
        endpoint.enabled_events = events
    if "description" in params:
        endpoint.description = params.string("description", blank=True) or None
    metadata = params.metadata(endpoint.metadata)
    if metadata is not None:
        endpoint.metadata = metadata
    if disabled is not None:
        endpoint.status = "disabled" if disabled else "enabled"
    return endpoint.to_wire()


def delete_webhook_endpoint(account: Account, params: Params, ident: str) -> dict[str, Any]:
    params.check(())
    endpoint = get(account, ident, WebhookEndpoint)
    endpoint.status = "deleted"
    account.store.remove(ident)
    return {"id": ident, "object": "webhook_endpoint", "deleted": True}


def list_webhook_endpoints(account: Account, params: Params) -> dict[str, Any]:
    params.check(_PAGING)
    items = account.store.all(WebhookEndpoint)
    return list_response(account.store, params, "/v1/webhook_endpoints", items, "webhook_endpoint")
