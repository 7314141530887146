"""The 3-D Secure page a ``next_action`` URL opens: Complete or Fail authentication.

``GET /3d_secure_2/hosted?payment_intent=…&source=payatt_…`` shows the challenge;
its buttons POST to ``/3d_secure_2/authenticate``, which then redirects to the
PaymentIntent's ``return_url`` with ``payment_intent``, ``payment_intent_client_secret``
and ``redirect_status`` (``succeeded``, ``processing`` or ``failed``), as Stripe does.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from .account import Account
from .control import ControlError, find_intent, play
from .currencies import format_amount
from .forms import decode

__all__ = ["routes"]

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}"
    "button{font-size:1rem;padding:.6rem 1.4rem;margin-right:.6rem;border-radius:6px;"
    "border:1px solid #888;cursor:pointer}.ok{background:#1a7f37;color:#fff}"
    ".ko{background:#cf222e;color:#fff}"
)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status)


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def routes(account: Account) -> list[BaseRoute]:
    async def hosted(request: Request) -> Response:
        try:
            intent, attempt = find_intent(account, str(request.url))
        except ControlError as error:
            return _page("Not found", f"<h1>Not found</h1><p>{escape(error.message)}</p>", 404)
        pending = intent.auth_attempt
        if intent.status != "requires_action" or pending is None or pending.id != attempt:
            return _page(
                "Authentication closed",
                f"<h1>Nothing to authenticate</h1><p>PaymentIntent {escape(intent.id)} is "
                f"{escape(intent.status)}.</p>",
                409,
            )
        amount = escape(format_amount(intent.amount, intent.currency))
        fields = (
            f"<input type='hidden' name='payment_intent' value='{escape(intent.id)}'>"
            f"<input type='hidden' name='source' value='{escape(pending.id)}'>"
        )
        body = (
            "<h1>3D Secure 2 Test Page</h1>"
            f"<p>{escape(account.keys.account_id)} asks you to authenticate a payment of "
            f"<strong>{amount}</strong> ({escape(intent.id)}).</p>"
            f"<form method='post' action='{escape(account.base_url)}/stripe/3d_secure_2/"
            f"authenticate'>{fields}"
            "<button class='ok' name='outcome' value='pay'>Complete</button>"
            "<button class='ko' name='outcome' value='fail'>Fail</button></form>"
        )
        return _page("3D Secure 2 Test Page", body)

    async def authenticate(request: Request) -> Response:
        form = decode(await request.body())
        intent_id = str(form.get("payment_intent", ""))
        query = urlencode({"payment_intent": intent_id, "source": str(form.get("source", ""))})
        outcome = str(form.get("outcome", ""))
        try:
            wire = play(account, f"/?{query}", outcome)
        except ControlError as error:
            return _page("Error", f"<h1>Error</h1><p>{escape(error.message)}</p>", error.status)
        status = wire["status"]
        redirect_status = {"succeeded": "succeeded", "requires_capture": "succeeded"}.get(
            status, "processing" if status == "processing" else "failed"
        )
        intent, _ = find_intent(account, intent_id)
        if intent.return_url:
            target = _with_query(
                intent.return_url,
                {
                    "payment_intent": intent.id,
                    "payment_intent_client_secret": intent.client_secret,
                    "redirect_status": redirect_status,
                },
            )
            return RedirectResponse(target, status_code=303)
        return _page(
            "Authentication finished",
            f"<h1>Authentication {escape(redirect_status)}</h1><p>PaymentIntent "
            f"{escape(intent.id)} is now {escape(status)}. You may close this window.</p>",
        )

    return [
        Route("/3d_secure_2/hosted", hosted, methods=["GET"]),
        Route("/3d_secure_2/authenticate", authenticate, methods=["POST"]),
    ]
