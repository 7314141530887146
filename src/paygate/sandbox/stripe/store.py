"""What one Stripe sandbox holds: the simulated account (:class:`Account`: its objects,
events, balance, and who caused each change) and the store of objects by id, with
Stripe's list pagination and ``expand``.

Stripe lists newest first; ``starting_after``/``ending_before`` page by object id. Each
record carries a sequence number so that objects created within one second keep a strict
order.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from paygate.sandbox.harness import Harness

from .bills import SETTLEMENT_DELAY_SECONDS, BalanceTransaction, BtType
from .errors import StripeError, invalid_param
from .keys import AccountKeys
from .notifications import Event, WebhookEndpoint, deliver
from .params import Params
from .state import Record
from .wire import new_id

__all__ = ["ASYNC", "DEFAULT_API_VERSION", "PAGING", "Account", "Cause", "Store", "list_response"]

#: The account's default API version: the one stripe-python 16.1.0 pins
#: (``stripe._api_version``). Events are rendered with it, whatever the request sent.
DEFAULT_API_VERSION = "2026-10-28.endive"

MAX_EXPAND_DEPTH = 4
#: The list parameters every list endpoint takes.
PAGING = frozenset({"limit", "starting_after", "ending_before", "created"})
#: Fields that hold another object's id and may be expanded (``expand[]=latest_charge``).
EXPANDABLE = frozenset(
    {
        "latest_charge",
        "payment_method",
        "payment_intent",
        "charge",
        "balance_transaction",
        "failure_balance_transaction",
        "source",
    }
)


R = TypeVar("R", bound=Record)


class Store:
    def __init__(self) -> None:
        self._objects: dict[str, Record] = {}
        self._seq = itertools.count(1)

    def add(self, record: R) -> R:
        record.seq = next(self._seq)
        self._objects[record.id] = record
        return record

    def remove(self, ident: str) -> None:
        self._objects.pop(ident, None)

    def get(self, ident: str) -> Record | None:
        return self._objects.get(ident)

    def typed(self, ident: str, kind: type[R]) -> R | None:
        record = self._objects.get(ident)
        return record if isinstance(record, kind) else None

    def all(self, kind: type[R]) -> list[R]:
        """Objects of ``kind``, newest first."""
        found = [r for r in self._objects.values() if isinstance(r, kind)]
        return sorted(found, key=lambda r: r.seq, reverse=True)

    # -- expansion ---------------------------------------------------------------------

    def expand(self, wire: dict[str, Any], paths: Iterable[str]) -> dict[str, Any]:
        for path in paths:
            parts = path.split(".")
            if len(parts) > MAX_EXPAND_DEPTH:
                raise invalid_param(
                    f"You cannot expand more than {MAX_EXPAND_DEPTH} levels of a property. Property: {path}",
                    "expand",
                )
            self._expand_path(wire, parts, path)
        return wire

    def _expand_path(self, node: Any, parts: list[str], path: str) -> None:
        if not parts or not isinstance(node, dict):
            return
        head, rest = parts[0], parts[1:]
        if head == "data" and node.get("object") == "list":
            for item in node.get("data", []):
                self._expand_path(item, rest, path)
            return
        if head not in node:
            raise invalid_param(f"This property cannot be expanded ({head}).", "expand")
        value = node[head]
        if isinstance(value, str):
            if head not in EXPANDABLE:
                raise invalid_param(f"This property cannot be expanded ({head}).", "expand")
            record = self._objects.get(value)
            if record is None:
                return
            value = node[head] = record.to_wire()
        self._expand_path(value, rest, path)


def _created_filter(params: Params) -> Callable[[int], bool]:
    raw = params.raw("created")
    if raw is None:
        return lambda _: True
    if isinstance(raw, str):
        exact = params.integer("created")
        return lambda c: c == exact
    if not isinstance(raw, dict):
        raise invalid_param("Invalid created", "created")
    bounds: dict[str, int] = {}
    for op, value in raw.items():
        if op not in ("gt", "gte", "lt", "lte"):
            raise StripeError(
                400,
                "invalid_request_error",
                f"Received unknown parameter: created[{op}]",
                code="parameter_unknown",
                param=f"created[{op}]",
                saved=False,
            )
        try:
            bounds[op] = int(value)
        except (TypeError, ValueError):
            raise invalid_param(
                f"Invalid integer: {value}", f"created[{op}]", "parameter_invalid_integer"
            ) from None

    def accept(created: int) -> bool:
        return (
            ("gt" not in bounds or created > bounds["gt"])
            and ("gte" not in bounds or created >= bounds["gte"])
            and ("lt" not in bounds or created < bounds["lt"])
            and ("lte" not in bounds or created <= bounds["lte"])
        )

    return accept


def _by_seq(record: Record) -> Any:
    return record.seq


def list_response(
    store: Store,
    params: Params,
    url: str,
    items: list[R],
    kind_name: str,
    *,
    rank: Callable[[Record], Any] = _by_seq,
    find: Callable[[str], Record | None] | None = None,
) -> dict[str, Any]:
    """Stripe's list envelope over ``items`` (newest first by ``rank``: the store's order
    unless told), honouring ``limit``, ``starting_after``, ``ending_before`` and
    ``created``. ``find`` resolves a cursor (default: the store), for lists that show
    objects the store does not hold (bill faults)."""
    limit = params.integer("limit")
    if limit is None:
        limit = 10
    if not 1 <= limit <= 100:
        raise invalid_param(
            "This value must be less than or equal to 100."
            if limit > 100
            else "This value must be greater than or equal to 1.",
            "limit",
            "parameter_invalid_integer",
        )
    accept = _created_filter(params)
    items = [r for r in items if accept(r.created)]
    after = params.string("starting_after")
    before = params.string("ending_before")
    if after is not None and before is not None:
        raise invalid_param(
            "You may only specify one of these parameters: ending_before, starting_after.",
            "ending_before",
            "parameters_exclusive",
        )
    cursor_name, cursor_id = ("starting_after", after) if after else ("ending_before", before)
    if cursor_id is not None:
        cursor = (find or store.get)(cursor_id)
        if cursor is None:
            raise StripeError(
                400,
                "invalid_request_error",
                f"No such {kind_name}: '{cursor_id}'",
                code="resource_missing",
                param=cursor_name,
            )
        at = rank(cursor)
        if after:
            page_pool = [r for r in items if rank(r) < at]
            page, has_more = page_pool[:limit], len(page_pool) > limit
        else:
            page_pool = [r for r in items if rank(r) > at]
            page, has_more = page_pool[-limit:], len(page_pool) > limit
    else:
        page, has_more = items[:limit], len(items) > limit
    return {
        "object": "list",
        "data": [r.to_wire() for r in page],
        "has_more": has_more,
        "url": url,
    }


@dataclass(frozen=True)
class Cause:
    """The API request behind a change (``event.request``); empty for Stripe's own work."""

    request_id: str | None = None
    idempotency_key: str | None = None


ASYNC = Cause()


class Account:
    """The simulated Stripe account: every object, the events they raise, the balance."""

    def __init__(self, keys: Callable[[], AccountKeys], harness: Harness) -> None:
        self._keys = keys
        self.harness = harness
        self.base_url = harness.config.base_url.rstrip("/")
        self.time_scale = harness.config.time_scale
        self.store = Store()

    @property
    def keys(self) -> AccountKeys:
        return self._keys()

    def now(self) -> int:
        """Unix seconds on the sandbox clock: every object's ``created``."""
        return self.harness.clock.timestamp()

    def later(self, seconds: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` after ``seconds`` of Stripe's time (times ``time_scale``)."""
        self.harness.scheduler.later(seconds, callback)

    def emit(
        self,
        type: str,
        obj: Record | dict[str, Any],
        cause: Cause,
        previous: dict[str, Any] | None = None,
    ) -> Event:
        """Record the event (a snapshot of ``obj``) and send it to the endpoints that want it."""
        snapshot = obj.to_wire() if isinstance(obj, Record) else obj
        event = self.store.add(
            Event(
                id=new_id("evt"),
                created=self.now(),
                type=type,
                object=copy.deepcopy(snapshot),
                previous_attributes=previous,
                request_id=cause.request_id,
                idempotency_key=cause.idempotency_key,
                api_version=DEFAULT_API_VERSION,
            )
        )
        deliver(self.harness.notifier, event, self.store.all(WebhookEndpoint)[::-1])
        return event

    def book(
        self,
        *,
        amount: int,
        currency: str,
        fee: int,
        type: BtType,
        source: str,
        description: str | None,
        settle: bool = True,
    ) -> BalanceTransaction:
        """Record a balance transaction; ``settle``: available after the settlement delay."""
        delay = int(SETTLEMENT_DELAY_SECONDS * self.time_scale) if settle else 0
        created = self.now()
        return self.store.add(
            BalanceTransaction(
                id=new_id("txn"),
                created=created,
                amount=amount,
                currency=currency,
                fee=fee,
                type=type,
                source=source,
                available_on=created + delay,
                description=description,
                clock=self.now,
            )
        )
