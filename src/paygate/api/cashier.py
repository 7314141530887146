"""The hosted cashier's pages on the public listener (R-API-9, R-PAY-8).

``GET /cashier/{token}`` shows the order and the pay types; ``POST /cashier/{token}/pay``
starts the chosen one (a QR code rendered here, or the browser sent on to the channel's page);
``GET /cashier/{token}/status`` is what the page polls — paygate's own state, never the
channel. Bad input (an unknown or expired token, a pay type not offered, a tampered field)
gets a clear page with a 4xx, and changes nothing.
"""

from __future__ import annotations

import secrets
from typing import Any

import segno
import structlog
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from paygate.api.pages import render
from paygate.cashier import Cashier
from paygate.cashier.checkouts import PAY_FORMS
from paygate.kit.errors import ErrorCode, PaygateError

__all__ = ["TEST_CARDS", "cashier_router"]

log = structlog.get_logger("paygate.cashier")

#: The cards the sandbox's card form offers (Stripe's test PaymentMethods). With a real Stripe
#: account the form would be Stripe.js Elements, which hands back a ``pm_…`` of the same shape.
TEST_CARDS = (
    ("pm_card_visa", "Visa •••• 4242"),
    ("pm_card_authenticationRequired", "Visa •••• 3184 (3-D Secure)"),
    ("pm_card_chargeDeclined", "Visa •••• 0002 (declined)"),
)
_MAX_FIELD = 128


def _qr_svg(data: str) -> str:
    """The QR code as inline SVG, drawn here: the payer's browser needs nothing else."""
    return str(segno.make(data, error="m").svg_inline(scale=5, dark="#111", light="#fff", border=2))


def _mobile(request: Request) -> bool:
    """A phone's browser (its User-Agent says "Mobi", as every major one does)."""
    return "Mobi" in request.headers.get("user-agent", "")


def _guarded(response: Response, nonce: str | None) -> Response:
    """Headers of every cashier page: no caching, no Referer (the URL holds the token), never
    in a frame (clickjacking on a pay button), scripts only our own inline one."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    if nonce is not None:
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"
        )
    return response


def cashier_router(cashier: Cashier) -> APIRouter:
    router = APIRouter(prefix="/cashier")

    def show(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        nonce = secrets.token_urlsafe(16)
        return _guarded(render(request, name, status_code=status_code, nonce=nonce, **context), nonce)

    def error_page(request: Request, exc: PaygateError, token: str | None = None) -> Response:
        status = exc.code.http_status
        key = {
            ErrorCode.CHECKOUT_NOT_FOUND: "not_found",
            ErrorCode.CHECKOUT_EXPIRED: "expired",
        }.get(exc.code)
        return show(
            request,
            "cashier/message.html",
            status_code=status,
            key=key,
            error=exc.code.name,
            message=exc.message,
            token=token if exc.code is not ErrorCode.CHECKOUT_NOT_FOUND else None,
        )

    @router.get("/{token}")
    async def page(request: Request, token: str) -> Response:
        try:
            checkout = await cashier.page(token, mobile=_mobile(request))
        except PaygateError as exc:
            return error_page(request, exc)
        return show(
            request,
            "cashier/checkout.html",
            c=checkout,
            forms=PAY_FORMS,
            cards=TEST_CARDS,
            qr=None,
            status_url=f"/cashier/{token}/status",
        )

    @router.post("/{token}/pay")
    async def pay(request: Request, token: str) -> Response:
        form = await request.form()
        pay_type = form.get("pay_type")
        payment_method = form.get("payment_method")
        fields = (pay_type, payment_method)
        if not isinstance(pay_type, str) or any(
            f is not None and (not isinstance(f, str) or len(f) > _MAX_FIELD or "\x00" in f) for f in fields
        ):
            exc = PaygateError("choose a pay type", code=ErrorCode.INVALID_REQUEST)
            return error_page(request, exc, token)
        try:
            view = await cashier.pay(
                token,
                pay_type,
                payment_method if isinstance(payment_method, str) else None,
                payer_ip=request.client.host if request.client else None,
            )
            checkout = await cashier.page(token, mobile=_mobile(request))
        except PaygateError as exc:
            log.info("cashier.pay_refused", error=exc.code.name, pay_type=pay_type[:32])
            return error_page(request, exc, token)
        action: dict[str, Any] = view.get("action") or {}
        kind = action.get("type")
        if kind == "redirect" and action.get("url"):
            return _guarded(RedirectResponse(str(action["url"]), status_code=303), None)
        if kind == "form" and action.get("form"):  # the channel's own auto-submitting form
            return _guarded(render(request, "cashier/form.html", form_html=action["form"]), None)
        qr = _qr_svg(str(action["qr_code"])) if kind == "qr_code" and action.get("qr_code") else None
        return show(
            request,
            "cashier/checkout.html",
            c=checkout,
            forms=PAY_FORMS,
            cards=TEST_CARDS,
            qr=qr,
            qr_code=action.get("qr_code"),
            qr_link=str(action.get("qr_code", "")).startswith(("https://", "http://")),
            chosen=pay_type,
            status_url=f"/cashier/{token}/status",
        )

    @router.get("/{token}/status")
    async def status(token: str) -> Response:
        try:
            s = await cashier.status(token)
        except PaygateError as exc:
            return JSONResponse(
                {"error": exc.code.name, "message": exc.message}, status_code=exc.code.http_status
            )
        return JSONResponse(
            {"state": s.state, "trade_no": s.trade_no, "done": s.done, "next": s.next_url},
            headers={"Cache-Control": "no-store"},
        )

    return router
