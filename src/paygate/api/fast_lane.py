"""The signed POST endpoints of the internal API, called without FastAPI's routing and
dependency resolution when the request is plain (issue 11).

A profile of a cached ``/query/trade`` spent a quarter of paygate's CPU in Starlette/FastAPI:
walking the route table, the exception and exit-stack middlewares, solving the endpoint's
dependencies and validating the body through FastAPI's own field machinery. The work those
layers do for a well-formed, authenticated request is small and known: read the body,
authenticate (:func:`~paygate.api.guards.authenticated`), validate the body with the
endpoint's pydantic model, call the endpoint, send its response. :class:`FastLane` does
exactly that, with the same functions, for the routes it is given:

- authentication is the same function, run first, as on the routed path (an unauthenticated
  caller learns nothing about bodies); its refusal is answered here with the same signed
  envelope (:func:`~paygate.api.responses.error_response`);
- a body that is not JSON, not an object, or not valid for the model is handed to the routed
  path, with the body replayed and the request already authenticated (the nonce is spent
  once): FastAPI's validation errors, and the stable codes built from them, stay the only
  ones;
- a request without ``Content-Length`` (a chunked body) or of another method goes the routed
  way untouched;
- the endpoint's :class:`~paygate.kit.errors.PaygateError` is answered as the app's
  exception handler answers it; any other exception propagates to the app's last-resort
  handler (``INTERNAL``), as on the routed path.

The routes stay declared on the app (OpenAPI, and the routed path for everything above), and
``scope["route"]`` is set to the declared route, so metrics carry the same labels.
``paygate_api_fast_lane_total{outcome="served"|"routed"}`` counts which way requests went (an
authentication refusal is answered here and counted in neither).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paygate.api.guards import authenticated
from paygate.api.responses import error_response
from paygate.auth.apps import AuthenticatedApp
from paygate.kit import metrics
from paygate.kit.errors import PaygateError

__all__ = ["Endpoint", "FastLane", "LaneRoute"]

Endpoint = Callable[[Any, Request, AuthenticatedApp], Awaitable[Response]]


@dataclass(frozen=True)
class LaneRoute:
    model: type[BaseModel]
    endpoint: Endpoint
    route: BaseRoute | None  # the declared route (its path labels the metrics)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that hands out ``body`` once, then defers to the connection's."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class FastLane:
    def __init__(self, app: ASGIApp, routes: Mapping[str, LaneRoute]) -> None:
        self.app = app
        self.routes = routes
        self._served = metrics.API_FAST_LANE.labels("served")
        self._routed = metrics.API_FAST_LANE.labels("routed")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        plain_post = scope["type"] == "http" and scope["method"] == "POST"
        lane = self.routes.get(scope["path"]) if plain_post else None
        if lane is None:
            await self.app(scope, receive, send)
            return
        if not any(name == b"content-length" for name, _ in scope["headers"]):
            self._routed.inc()
            await self.app(scope, receive, send)
            return
        if lane.route is not None:
            scope["route"] = lane.route
        request = Request(scope, receive)
        try:
            app = await authenticated(request)
        except PaygateError as refused:
            await error_response(request, refused)(scope, receive, send)
            return
        raw = request.state.request_json  # the body as the guard parsed it
        try:
            command = lane.model.model_validate(raw) if isinstance(raw, dict) else None
        except ValidationError:
            command = None
        if command is None:  # FastAPI answers it, with the codes its validation errors map to
            self._routed.inc()
            await self.app(scope, _replaying(await request.body(), receive), send)
            return
        self._served.inc()
        try:
            response = await lane.endpoint(command, request, app)
        except PaygateError as error:
            response = error_response(request, error)
        await response(scope, receive, send)
