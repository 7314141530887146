"""What the buyer's browser sees: the QR code URL, the cashier and its buttons, Alipay's
error page for a bad page-pay request, and the bill download URL.

Opening ``/qr/<token>`` is the buyer scanning the code: the trade comes to exist
(``WAIT_BUYER_PAY``) and the cashier shows. The cashier's buttons post to
``/cashier/<token>``: *Pay* pays (and, for page/wap pay with a ``return_url``, redirects
the browser there with Alipay's signed return parameters), *Fail* is a failed payment
attempt (nothing changes at Alipay, the buyer may try again), *Cancel* closes the trade.
Pages are the ``templates/`` of this package, rendered by the harness (Jinja2, escaped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from paygate.sandbox.alipay.api import Call
from paygate.sandbox.alipay.errors import AlipayError
from paygate.sandbox.alipay.notifications import return_params
from paygate.sandbox.alipay.resources.trades import open_client_order
from paygate.sandbox.alipay.state import Trade, TradeState
from paygate.sandbox.alipay.store import AlipayStore, BuyerAction
from paygate.sandbox.alipay.wire import encode_form, format_fen, format_time, sign_notification
from paygate.sandbox.harness import Pages

__all__ = ["CashierPages", "browser_routes", "return_redirect_url"]

_OUTCOMES: Final[dict[str, BuyerAction]] = {"pay": "pay", "fail": "fail", "cancel": "cancel"}
_RETURNING_METHODS: Final = ("alipay.trade.page.pay", "alipay.trade.wap.pay")
_STATE_TEXT: Final = {
    TradeState.ISSUED: "等待扫码",
    TradeState.WAIT_BUYER_PAY: "等待付款",
    TradeState.TRADE_SUCCESS: "支付成功",
    TradeState.TRADE_CLOSED: "交易已关闭",
    TradeState.TRADE_FINISHED: "交易结束",
}


@dataclass(frozen=True)
class TradeFacts:
    """What a page shows of a trade."""

    amount: str
    rows: list[tuple[str, str]]
    waiting: bool
    state_text: str

    @classmethod
    def of(cls, trade: Trade) -> TradeFacts:
        rows = [
            ("商品", trade.subject),
            ("商户订单号", trade.out_trade_no),
            ("支付宝交易号", trade.trade_no or "—"),
            ("交易状态", trade.state.value),
            ("付款截止", format_time(trade.deadline)),
        ]
        if trade.buyer:
            rows.append(("买家", trade.buyer.masked_logon_id))
        waiting = trade.state is TradeState.WAIT_BUYER_PAY
        return cls(format_fen(trade.total_amount), rows, waiting, _STATE_TEXT[trade.state])


class CashierPages:
    def __init__(self, store: AlipayStore, pages: Pages) -> None:
        self._store = store
        self._pages = pages

    def cashier(self, trade: Trade, notice: str = "") -> HTMLResponse:
        """The cashier; buttons only while the trade waits for the buyer."""
        action_url = self._store.cashier_url(trade.token)
        return self._pages.render(
            "cashier.html", trade=TradeFacts.of(trade), action_url=action_url, notice=notice
        )

    def message(
        self, title: str, message: str, trade: Trade | None = None, status: int = 200
    ) -> HTMLResponse:
        facts = TradeFacts.of(trade) if trade else None
        return self._pages.render("message.html", status, title=title, message=message, trade=facts)

    def gateway_error(self, error: AlipayError) -> HTMLResponse:
        """What Alipay shows for a bad page-pay request (``isv.`` dropped from the code)."""
        code = error.sub_code.removeprefix("isv.")
        return self._pages.render("gateway_error.html", code=code, reason=error.sub_msg)

    def opened(self, call: Call) -> HTMLResponse:
        """A page/wap/app pay order brought by the buyer: the trade exists, the cashier shows."""
        return self.cashier(open_client_order(self._store, call))


def return_redirect_url(store: AlipayStore, trade: Trade) -> str:
    """Where the buyer's browser goes after paying: ``return_url`` + signed parameters."""
    params = return_params(trade, store.merchant(trade.app_id), store.harness.clock.now())
    signed = sign_notification(params, store.identity.alipay_private_key, trade.sign_type, trade.codec)
    separator = "&" if "?" in trade.return_url else "?"
    return trade.return_url + separator + encode_form(signed, trade.codec)


def browser_routes(store: AlipayStore, pages: CashierPages) -> list[BaseRoute]:
    async def scan(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            trade, events = store.book.open(token, store.buyer())
        except AlipayError as error:
            return pages.message("二维码无效", error.sub_msg, store.book.by_token(token))
        store.publish(events)
        return pages.cashier(trade)

    async def show(request: Request) -> Response:
        trade = store.book.by_token(request.path_params["token"])
        if trade is None:
            return pages.message("订单不存在", "没有这个收银台。", status=404)
        return pages.cashier(trade)

    async def act(request: Request) -> Response:
        token = request.path_params["token"]
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        action = _OUTCOMES.get(form.get("outcome", ""))
        if action is None:
            return pages.message("无效操作", "outcome 只能是 pay、fail 或 cancel。", status=400)
        try:
            trade, events = store.book.act(token, action, store.buyer())
        except AlipayError as error:
            return pages.message("操作失败", error.sub_msg, store.book.by_token(token))
        store.publish(events)
        if action == "fail":
            return pages.cashier(trade, "付款失败：余额不足，请更换付款方式后重试。")
        if action == "cancel":
            return pages.message("交易已关闭", "买家取消了付款。", trade)
        if trade.return_url and trade.method in _RETURNING_METHODS:
            return RedirectResponse(return_redirect_url(store, trade), status_code=303)
        return pages.message("支付成功", "付款已完成。", trade)

    async def download_bill(request: Request) -> Response:
        bill = store.bills.get(request.query_params.get("token", ""), store.harness.clock.now())
        if bill is None:
            return Response("bill download url expired or unknown", 404, media_type="text/plain")
        disposition = f"attachment; filename*=UTF-8''{quote(bill.name)}"
        return Response(
            bill.content, media_type="application/octet-stream", headers={"Content-Disposition": disposition}
        )

    return [
        Route("/qr/{token}", scan, methods=["GET"]),
        Route("/cashier/{token}", show, methods=["GET"]),
        Route("/cashier/{token}", act, methods=["POST"]),
        Route("/downloadBillFile.resource", download_bill, methods=["GET"]),
    ]
