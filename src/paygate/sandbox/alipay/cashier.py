"""Browser routes: the QR code URL, the cashier's buttons, and the bill download URL.

Opening ``/qr/<token>`` is the buyer scanning the code: the trade comes to exist
(``WAIT_BUYER_PAY``) and the cashier shows. The cashier's buttons post to
``/cashier/<token>``: *Pay* pays (and, for page/wap pay with a ``return_url``, redirects
the browser there with Alipay's signed return parameters), *Fail* is a failed payment
attempt (nothing changes at Alipay, the buyer may try again), *Cancel* closes the trade.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from paygate.sandbox.alipay.book import BuyerAction
from paygate.sandbox.alipay.core import AlipayCore
from paygate.sandbox.alipay.errors import AlipayError
from paygate.sandbox.alipay.notifications import return_params
from paygate.sandbox.alipay.pages import cashier_page, message_page
from paygate.sandbox.alipay.trades import Trade
from paygate.sandbox.alipay.wire import encode_form, sign_notification

__all__ = ["browser_routes", "return_redirect_url"]

_OUTCOMES: dict[str, BuyerAction] = {"pay": "pay", "fail": "fail", "cancel": "cancel"}
_RETURNING_METHODS = ("alipay.trade.page.pay", "alipay.trade.wap.pay")


def return_redirect_url(core: AlipayCore, trade: Trade) -> str:
    """Where the buyer's browser goes after paying: ``return_url`` + signed parameters."""
    params = return_params(trade, core.merchant(trade.app_id), core.clock.now())
    signed = sign_notification(params, core.identity.alipay_private_key, trade.sign_type, trade.codec)
    separator = "&" if "?" in trade.return_url else "?"
    return trade.return_url + separator + encode_form(signed, trade.codec)


def browser_routes(core: AlipayCore) -> list[Route]:
    async def scan(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            trade, events = core.book.open(token, core.buyer())
        except AlipayError as error:
            return HTMLResponse(message_page("二维码无效", error.sub_msg, core.book.by_token(token)))
        core.publish(events)
        return HTMLResponse(cashier_page(trade, core.cashier_url(token)))

    async def show(request: Request) -> Response:
        token = request.path_params["token"]
        trade = core.book.by_token(token)
        if trade is None:
            return HTMLResponse(message_page("订单不存在", "没有这个收银台。"), status_code=404)
        return HTMLResponse(cashier_page(trade, core.cashier_url(token)))

    async def act(request: Request) -> Response:
        token = request.path_params["token"]
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        action = _OUTCOMES.get(form.get("outcome", ""))
        if action is None:
            return HTMLResponse(message_page("无效操作", "outcome 只能是 pay、fail 或 cancel。"), 400)
        try:
            trade, events = core.book.act(token, action, core.buyer())
        except AlipayError as error:
            return HTMLResponse(message_page("操作失败", error.sub_msg, core.book.by_token(token)))
        core.publish(events)
        if action == "fail":
            notice = "付款失败：余额不足，请更换付款方式后重试。"
            return HTMLResponse(cashier_page(trade, core.cashier_url(token), notice))
        if action == "cancel":
            return HTMLResponse(message_page("交易已关闭", "买家取消了付款。", trade))
        if trade.return_url and trade.method in _RETURNING_METHODS:
            return RedirectResponse(return_redirect_url(core, trade), status_code=303)
        return HTMLResponse(message_page("支付成功", "付款已完成。", trade))

    async def download_bill(request: Request) -> Response:
        bill = core.bills.get(request.query_params.get("token", ""), core.clock.now())
        if bill is None:
            return Response("bill download url expired or unknown", 404, media_type="text/plain")
        disposition = f"attachment; filename*=UTF-8''{quote(bill.name)}"
        return Response(
            bill.content,
            media_type="application/octet-stream",
            headers={"Content-Disposition": disposition},
        )

    return [
        Route("/qr/{token}", scan, methods=["GET"]),
        Route("/cashier/{token}", show, methods=["GET"]),
        Route("/cashier/{token}", act, methods=["POST"]),
        Route("/downloadBillFile.resource", download_bill, methods=["GET"]),
    ]
