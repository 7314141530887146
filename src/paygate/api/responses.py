"""Building every answer of the internal API: the envelope, its signature, the call log."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from paygate.api.guards import NotJson
from paygate.auth.apps import AuthenticatedApp
from paygate.kit import metrics
from paygate.kit.errors import ErrorCode, PaygateError
from paygate.kit.masking import mask

__all__ = ["error_response", "ok_response"]


def _dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _finish(request: Request, status: int, payload: dict[str, Any]) -> Response:
    services = request.app.state.services
    body = _dumps(payload)
    headers: dict[str, str] = {}
    app: AuthenticatedApp | None = getattr(request.state, "paygate_app", None)
    if app is not None:
        headers = services.authenticator.sign_response(app, body)
    started = getattr(request.state, "started", None)
    duration_ms = int((time.perf_counter() - started) * 1000) if started else 0
    endpoint: str = request.scope["path"]
    route = request.scope.get("route")
    label = getattr(route, "path", "unmatched")  # bounded label values
    metrics.API_REQUESTS.labels(label, str(payload["errno"])).inc()
    if started:
        metrics.API_LATENCY.labels(label).observe(time.perf_counter() - started)
    data = payload.get("data") or {}
    request_json = getattr(request.state, "request_json", None)
    services.call_log.submit(
        {
            "app_id": app.context.app_id if app else None,
            "endpoint": endpoint[:128],
            "http_method": request.method,
            "http_status": status,
            "errno": payload["errno"],
            "trade_no": data.get("trade_no") if isinstance(data, dict) else None,
            "client_ip": client[0] if (client := request.scope.get("client")) else None,
            "request": _logged_request(request_json),
            "response": mask(payload),
            "duration_ms": duration_ms,
        }
    )
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _logged_request(request_json: Any) -> Any:
    if isinstance(request_json, NotJson):
        return {"_raw_length": request_json.length}
    return None if request_json is None else mask(request_json)


def ok_response(request: Request, data: dict[str, Any]) -> Response:
    return _finish(request, 200, {"errno": 0, "msg": "ok", "data": data})


def error_response(request: Request, error: PaygateError) -> Response:
    payload: dict[str, Any] = {
        "errno": error.code.errno,
        "msg": error.message,
        "error": error.code.name,
        "data": error.details or None,
    }
    return _finish(request, error.code.http_status, payload)


def code_response(
    request: Request, code: ErrorCode, message: str | None = None, details: dict[str, Any] | None = None
) -> Response:
    return error_response(request, PaygateError(message, code=code, details=details))
