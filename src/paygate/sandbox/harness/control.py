"""The control API every sandbox serves under ``/_sandbox/`` (JSON; not the channel's).

========================================  ==================================================
``POST /_sandbox/pay``                    act as the payer: ``{"trade": X, "outcome": …}``
                                          plus the channel's options (``buyer_id``, ``mchid``…)
``GET  /_sandbox/trades[/{ref}]``         what the sandbox holds (query: the channel's scope)
``GET|POST /_sandbox/refunds/{ref}``      a refund; POST ``{"outcome": …}`` settles it by hand
``GET  /_sandbox/notifications``          deliveries and their attempts (query: tag filters)
``GET|POST|DELETE /_sandbox/faults``      see :mod:`.faults` (POST merges, DELETE clears)
``GET|POST /_sandbox/clock``              ``{"advance_seconds": N}`` moves sandbox time on
========================================  ==================================================

What a trade is, how ``X`` is resolved and what each outcome does is the channel's: it
implements :class:`Controls`. Refusals are ``{"error": code, "message": text, …}`` with 400,
404 or 409 (:class:`ControlError`), the same shape for every channel.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from paygate.sandbox.harness.faults import FaultSpecError

if TYPE_CHECKING:
    from paygate.sandbox.harness.sandbox import Harness

__all__ = ["ControlError", "Controls", "control_routes", "json_body"]


class ControlError(Exception):
    """A control request that cannot be served. ``extra`` joins the JSON answer (the
    channel's view of the trade concerned, for instance)."""

    def __init__(self, status: int, error: str, message: str, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.extra = dict(extra or {})

    def to_json(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, **self.extra}


class Controls(Protocol):
    """A channel's side of the control API (each raises :class:`ControlError`)."""

    #: The payer's outcomes, the first being the default (``pay``).
    outcomes: tuple[str, ...]

    def pay(self, trade: str, outcome: str, options: Mapping[str, Any]) -> dict[str, Any]:
        """Play the payer's ``outcome`` on the trade ``trade`` names; its view after."""
        ...

    def trades(self) -> list[dict[str, Any]]: ...

    def trade(self, ref: str, scope: Mapping[str, str]) -> dict[str, Any]: ...

    def refund(self, ref: str, scope: Mapping[str, str]) -> dict[str, Any]: ...

    def settle_refund(self, ref: str, outcome: str, scope: Mapping[str, Any]) -> dict[str, Any]: ...

    def clock_moved(self) -> None:
        """Sandbox time moved on: do what became due (close expired trades …)."""
        ...


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (an empty body is ``{}``)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ControlError(400, "bad_json", "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ControlError(400, "bad_json", "the body must be a JSON object")
    return body


Endpoint = Callable[[Request], Awaitable[Response]]


def guarded(handler: Endpoint) -> Endpoint:
    """An endpoint whose :class:`ControlError` becomes its JSON answer."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ControlError as exc:
            return JSONResponse(exc.to_json(), exc.status)

    return endpoint


def control_routes(harness: Harness, controls: Controls) -> list[BaseRoute]:
    async def pay(request: Request) -> Response:
        body = await json_body(request)
        trade = body.pop("trade", None)
        if not isinstance(trade, str) or not trade:
            raise ControlError(400, "bad_trade", "'trade' must be a non-empty string")
        outcome = body.pop("outcome", controls.outcomes[0])
        if outcome not in controls.outcomes:
            raise ControlError(400, "bad_outcome", f"outcome must be one of {', '.join(controls.outcomes)}")
        return JSONResponse(controls.pay(trade, outcome, body))

    async def trades(request: Request) -> Response:
        return JSONResponse(controls.trades())

    async def trade(request: Request) -> Response:
        return JSONResponse(controls.trade(request.path_params["ref"], dict(request.query_params)))

    async def refund(request: Request) -> Response:
        ref = request.path_params["ref"]
        if request.method == "GET":
            return JSONResponse(controls.refund(ref, dict(request.query_params)))
        body = await json_body(request)
        outcome = body.pop("outcome", None)
        if not isinstance(outcome, str) or not outcome:
            raise ControlError(400, "bad_outcome", "'outcome' names how the refund ends")
        return JSONResponse(controls.settle_refund(ref, outcome, body))

    async def notifications(request: Request) -> Response:
        found = harness.notifier.matching(**dict(request.query_params))
        return JSONResponse([d.to_json() for d in found])

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            harness.faults.clear()
        elif request.method == "POST":
            try:
                harness.faults.update(await json_body(request))
            except FaultSpecError as exc:
                raise ControlError(400, "bad_faults", str(exc)) from None
        return JSONResponse(harness.faults.to_json())

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            seconds = (await json_body(request)).get("advance_seconds")
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
                raise ControlError(400, "bad_clock", "'advance_seconds' must be a number >= 0")
            harness.clock.advance(float(seconds))
            controls.clock_moved()
        return JSONResponse({"now": harness.clock.now().isoformat(timespec="seconds")})

    return [
        Route("/_sandbox/pay", guarded(pay), methods=["POST"]),
        Route("/_sandbox/trades", guarded(trades), methods=["GET"]),
        Route("/_sandbox/trades/{ref}", guarded(trade), methods=["GET"]),
        Route("/_sandbox/refunds/{ref}", guarded(refund), methods=["GET", "POST"]),
        Route("/_sandbox/notifications", guarded(notifications), methods=["GET"]),
        Route("/_sandbox/faults", guarded(faults), methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/clock", guarded(clock), methods=["GET", "POST"]),
    ]
