"""The payer's side in a browser: the page behind a ``code_url``
(``…/bizpayurl?pr=…``) or an ``h5_url`` (``…/checkmweb?prepay_id=…``) with Pay / Fail /
Cancel buttons. ``checkmweb`` also opens JSAPI and APP orders by their ``prepay_id``.
After an H5 payment the page links back to ``redirect_url`` when the merchant appended
one, as WeChat's H5 cashier does. The page is ``templates/cashier.html``, rendered by the
harness (Jinja2, escaped)."""

from __future__ import annotations

import urllib.parse
from typing import Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from paygate.sandbox.harness import Pages

from .resources.transactions import TradeExpired, apply_outcome
from .state import TRADE_STATE_DESC, InvalidTransition, Trade
from .store import WechatStore

__all__ = ["cashier_routes", "trade_from_page_query"]

_BUTTONS: Final = (("pay", "Pay 确认支付"), ("fail", "Fail 支付失败"), ("cancel", "Cancel 取消支付"))


def trade_from_page_query(store: WechatStore, query: dict[str, str]) -> Trade | None:
    if "pr" in query:
        return store.by_token.get(query["pr"])
    if "prepay_id" in query:
        return store.by_prepay_id.get(query["prepay_id"])
    return None


def _render(
    pages: Pages, trade: Trade | None, notice: str | None, redirect_url: str | None, status: int
) -> HTMLResponse:
    return pages.render(
        "cashier.html",
        status,
        trade=trade,
        amount=f"{trade.total // 100}.{trade.total % 100:02d}" if trade else "",
        state_desc=TRADE_STATE_DESC[trade.state] if trade else "",
        payable=trade is not None and trade.state in ("NOTPAY", "USERPAYING"),
        buttons=_BUTTONS,
        notice=notice,
        redirect_url=redirect_url,
    )


def cashier_routes(store: WechatStore, pages: Pages) -> list[BaseRoute]:
    async def cashier_page(request: Request) -> Response:
        query = dict(request.query_params)
        trade = trade_from_page_query(store, query)
        notice: str | None = None
        status = 200 if trade is not None else 404
        if request.method == "POST" and trade is not None:
            form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))
            outcome = (form.get("outcome") or [""])[0]
            try:
                apply_outcome(store, trade, outcome)
                notice = "支付成功" if outcome == "pay" else None
            except (InvalidTransition, TradeExpired, ValueError) as exc:
                notice, status = str(exc), 409
        return _render(pages, trade, notice, query.get("redirect_url"), status)

    return [
        Route("/bizpayurl", cashier_page, methods=["GET", "POST"]),
        Route("/checkmweb", cashier_page, methods=["GET", "POST"]),
    ]
