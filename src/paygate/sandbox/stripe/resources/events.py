"""Events and webhook endpoints: ``GET /v1/events[/{id}]`` (``type`` with ``.*``
wildcards, ``types[]``, ``delivery_success``, ``created``, pagination) and
``/v1/webhook_endpoints`` (create, list, retrieve, update, delete; each endpoint gets its own
``whsec_…``, shown only on creation). What an event is and how it is delivered is in
:mod:`..notifications`."""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from paygate.kit.crypto import Secret

from ..errors import StripeError, invalid_param, missing_param, resource_missing
from ..notifications import Event, WebhookEndpoint
from ..params import Params
from ..store import PAGING, Account, list_response
from ..wire import new_id

__all__ = [
    "add_webhook_endpoint",
    "create_webhook_endpoint",
    "delete_webhook_endpoint",
    "list_events",
    "list_webhook_endpoints",
    "retrieve_event",
    "retrieve_webhook_endpoint",
    "update_webhook_endpoint",
]

_EVENT_TYPE = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")


def retrieve_event(account: Account, params: Params, ident: str) -> dict[str, Any]:
    params.check(())
    event = account.store.typed(ident, Event)
    if event is None:
        raise resource_missing("event", ident, "id")
    return event.to_wire()


def _endpoint(account: Account, ident: str) -> WebhookEndpoint:
    endpoint = account.store.typed(ident, WebhookEndpoint)
    if endpoint is None:
        raise resource_missing("webhook_endpoint", ident, "id")
    return endpoint


def retrieve_webhook_endpoint(account: Account, params: Params, ident: str) -> dict[str, Any]:
    params.check(())
    return _endpoint(account, ident).to_wire()


# -- events -------------------------------------------------------------------------------


def _type_matches(pattern: str, event_type: str) -> bool:
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def list_events(account: Account, params: Params) -> dict[str, Any]:
    params.check(PAGING | {"type", "types", "delivery_success"})
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
            created=account.now(),
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
    endpoint = _endpoint(account, ident)
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
    endpoint = _endpoint(account, ident)
    endpoint.status = "deleted"
    account.store.remove(ident)
    return {"id": ident, "object": "webhook_endpoint", "deleted": True}


def list_webhook_endpoints(account: Account, params: Params) -> dict[str, Any]:
    params.check(PAGING)
    items = account.store.all(WebhookEndpoint)
    return list_response(account.store, params, "/v1/webhook_endpoints", items, "webhook_endpoint")
