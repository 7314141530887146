"""The app side of the event-dispatch bench: a bare ASGI endpoint (uvicorn + httptools) that
verifies every notification with the ``standardwebhooks`` package, answers 204, and counts.
GET /stats returns {"received", "unique", "bad_signature"}.

    BENCH_WEBHOOK_SECRET=whsec_… uvicorn --factory events_receiver:app --port P
"""

from __future__ import annotations

import json
import os
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def app() -> Any:
    hook = Webhook(os.environ["BENCH_WEBHOOK_SECRET"])
    seen: set[str] = set()
    stats = {"received": 0, "unique": 0, "bad_signature": 0}

    async def asgi(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "GET":
            payload = json.dumps(stats).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            return
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        status = 204
        try:
            hook.verify(body, headers, json_parse=False)
        except WebhookVerificationError:
            stats["bad_signature"] += 1
            status = 400
        else:
            stats["received"] += 1
            event_id = headers["webhook-id"]
            if event_id not in seen:
                seen.add(event_id)
                stats["unique"] += 1
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return asgi
