"""The 3-D Secure page a ``next_action`` URL opens: Complete or Fail authentication.

``GET /3d_secure_2/hosted?payment_intent=…&source=payatt_…`` shows the challenge;
its buttons POST to ``/3d_secure_2/authenticate``, which then redirects to the
PaymentIntent's ``return_url`` with ``payment_intent``, ``payment_intent_client_secret``
and ``redirect_status`` (``succeeded`` or ``failed``), as Stripe does. Pages are the
``templates/`` of this package, rendered by the harness (Jinja2, escaped).
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from paygate.sandbox.harness import ControlError, Pages

from .currencies import format_amount
from .payer import find_intent, play
from .store import Account
from .wire import decode

__all__ = ["routes"]


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def routes(account: Account, pages: Pages) -> list[BaseRoute]:
    def message(title: str, heading: str, text: str, status: int = 200) -> HTMLResponse:
        return pages.render("message.html", status, title=title, heading=heading, message=text)

    async def hosted(request: Request) -> Response:
        try:
            intent, attempt = find_intent(account, str(request.url))
        except ControlError as error:
            return message("Not found", "Not found", error.message, 404)
        pending = intent.auth_attempt
        if intent.status != "requires_action" or pending is None or pending.id != attempt:
            text = f"PaymentIntent {intent.id} is {intent.status}."
            return message("Authentication closed", "Nothing to authenticate", text, 409)
        return pages.render(
            "three_d_secure.html",
            account_id=account.keys.account_id,
            amount=format_amount(intent.amount, intent.currency),
            intent_id=intent.id,
            attempt_id=pending.id,
            action_url=f"{account.base_url}/stripe/3d_secure_2/authenticate",
        )

    async def authenticate(request: Request) -> Response:
        form = decode(await request.body())
        intent_id = str(form.get("payment_intent", ""))
        query = urlencode({"payment_intent": intent_id, "source": str(form.get("source", ""))})
        try:
            wire = play(account, f"/?{query}", str(form.get("outcome", "")))
        except ControlError as error:
            return message("Error", "Error", error.message, error.status)
        status = wire["status"]
        redirect_status = "succeeded" if status == "succeeded" else "failed"
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
        text = f"PaymentIntent {intent.id} is now {status}. You may close this window."
        return message("Authentication finished", f"Authentication {redirect_status}", text)

    return [
        Route("/3d_secure_2/hosted", hosted, methods=["GET"]),
        Route("/3d_secure_2/authenticate", authenticate, methods=["POST"]),
    ]
