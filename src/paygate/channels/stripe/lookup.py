"""Finding paygate's objects at Stripe by paygate's own numbers.

Stripe names objects by its ids (``pi_…``, ``re_…``); paygate stores the PaymentIntent id
once it has an answer, but after a timeout it has only its attempt number, and the
contract's refund query passes only the refund number. Stripe's Search API would find
``metadata['attempt_no']`` but lags behind writes by up to a minute and is not simulated by
the sandbox, so these lookups walk list endpoints, newest first, matching our metadata:

* a PaymentIntent by ``metadata.attempt_no`` among the newest ``pages`` pages (of 100)
  of intents;
* a refund by ``metadata.refund_no`` among one intent's refunds (all of them) or, without
  the intent, among the account's newest ``pages`` pages of refunds.

A list read to its end without a match is a definite "not found" (lists are consistent);
running out of pages first raises :class:`ChannelError` — the caller must then pass the
Stripe id. Recent objects (the usual case: a query right after a timeout) are found at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from paygate.channels.contract import ChannelAccount, ChannelError, ChannelProtocolError, Exchange
from paygate.channels.stripe.client import StripeClient

__all__ = ["DEFAULT_SCAN_PAGES", "Found", "Lookup"]

#: Pages of 100 walked when only paygate's number is known.
DEFAULT_SCAN_PAGES: Final = 3
#: Pages walked through one intent's refunds (far more than any intent has).
_INTENT_REFUND_PAGES: Final = 20


@dataclass(frozen=True)
class Found:
    """``obj`` is None when the list was read to its end without a match."""

    obj: Mapping[str, Any] | None
    exchange: Exchange


def _metadata_is(name: str, value: str) -> Callable[[Mapping[str, Any]], bool]:
    def match(item: Mapping[str, Any]) -> bool:
        metadata = item.get("metadata")
        return isinstance(metadata, Mapping) and metadata.get(name) == value

    return match


class Lookup:
    def __init__(self, client: StripeClient, pages: int = DEFAULT_SCAN_PAGES, page_size: int = 100) -> None:
        self._client = client
        self._pages = pages
        self._page_size = page_size

    async def intent(self, account: ChannelAccount, attempt_no: str, *, operation: str) -> Found:
        """The PaymentIntent created for ``attempt_no`` (with ``latest_charge`` expanded)."""
        return await self._scan(
            account,
            "/v1/payment_intents",
            {"expand": ["data.latest_charge"]},
            _metadata_is("attempt_no", attempt_no),
            pages=self._pages,
            operation=operation,
            what=f"attempt {attempt_no}",
        )

    async def refund(
        self, account: ChannelAccount, refund_no: str, intent_id: str | None, *, operation: str
    ) -> Found:
        params: dict[str, Any] = {"payment_intent": intent_id} if intent_id else {}
        return await self._scan(
            account,
            "/v1/refunds",
            params,
            _metadata_is("refund_no", refund_no),
            pages=_INTENT_REFUND_PAGES if intent_id else self._pages,
            operation=operation,
            what=f"refund {refund_no}",
        )

    async def _scan(
        self,
        account: ChannelAccount,
        path: str,
        params: Mapping[str, Any],
        match: Callable[[Mapping[str, Any]], bool],
        *,
        pages: int,
        operation: str,
        what: str,
    ) -> Found:
        query: dict[str, Any] = {**params, "limit": self._page_size}
        exchange: Exchange | None = None
        for _ in range(pages):
            reply = await self._client.get(account, path, query, operation=operation)
            exchange = reply.exchange
            items = reply.data.get("data")
            if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
                exchange.error = f"{path}: no data list"
                raise ChannelProtocolError(f"stripe {operation}: {exchange.error}", exchange=exchange)
            for item in items:
                if match(item):
                    return Found(item, exchange)
            if not reply.data.get("has_more") or not items:
                return Found(None, exchange)
            query["starting_after"] = items[-1].get("id")
        message = (
            f"stripe {operation}: {what} is not among the newest {pages * self._page_size} objects "
            f"of {path}; pass its Stripe id (PaymentIntent / refund id) to look it up"
        )
        if exchange is not None:
            exchange.error = message
        raise ChannelError(message, exchange=exchange)
