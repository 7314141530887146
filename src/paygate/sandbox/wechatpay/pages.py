"""The payer's side in a browser: the page behind a ``code_url``
(``…/bizpayurl?pr=…``) or an ``h5_url`` (``…/checkmweb?prepay_id=…``) with Pay / Fail /
Cancel buttons. ``checkmweb`` also opens JSAPI and APP orders by their ``prepay_id``.
After an H5 payment the page links back to ``redirect_url`` when the merchant appended
one, as WeChat's H5 cashier does."""

from __future__ import annotations

import html
import urllib.parse

from starlette.requests import Request
from starlette.responses import HTMLResponse

from .context import Context
from .state import TRADE_STATE_DESC, InvalidTransition, Trade
from .transactions import TradeExpired, apply_outcome

__all__ = ["cashier_page", "trade_from_page_query"]

_BUTTONS = (("pay", "Pay 确认支付"), ("fail", "Fail 支付失败"), ("cancel", "Cancel 取消支付"))
_STYLE = (
    "body{font-family:sans-serif;max-width:28rem;margin:2rem auto;color:#222}"
    ".amount{font-size:2rem;margin:.5rem 0}button{display:block;width:100%;margin:.4rem 0;"
    "padding:.7rem;font-size:1rem}.pay{background:#07c160;color:#fff;border:0}"
    ".state{padding:.5rem;background:#f3f3f3}"
)


def trade_from_page_query(ctx: Context, query: dict[str, str]) -> Trade | None:
    if "pr" in query:
        return ctx.store.by_token.get(query["pr"])
    if "prepay_id" in query:
        return ctx.store.by_prepay_id.get(query["prepay_id"])
    return None


def _render(trade: Trade | None, notice: str | None, redirect_url: str | None) -> str:
    esc = html.escape
    if trade is None:
        body = "<h1>微信支付</h1><p class='state'>订单不存在或链接已失效</p>"
    else:
        yuan = f"{trade.total // 100}.{trade.total % 100:02d}"
        parts = [
            "<h1>微信支付 · paygate sandbox</h1>",
            f"<p>{esc(trade.description)}</p>",
            f"<p class='amount'>¥{yuan}</p>",
            f"<p>商户订单号 {esc(trade.out_trade_no)} · {esc(trade.trade_type)}</p>",
            f"<p class='state' id='state'>{esc(trade.state)} — {esc(TRADE_STATE_DESC[trade.state])}</p>",
        ]
        if notice:
            parts.append(f"<p><strong>{esc(notice)}</strong></p>")
        if trade.state in ("NOTPAY", "USERPAYING"):
            parts.append("<form method='post'>")
            parts += [
                f"<button name='outcome' value='{value}' class='{value}'>{label}</button>"
                for value, label in _BUTTONS
            ]
            parts.append("</form>")
        elif redirect_url:
            parts.append(f"<p><a id='back' href='{esc(redirect_url)}'>返回商家</a></p>")
        body = "".join(parts)
    return (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>微信支付</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


async def cashier_page(ctx: Context, request: Request) -> HTMLResponse:
    query = dict(request.query_params)
    trade = trade_from_page_query(ctx, query)
    redirect_url = query.get("redirect_url")
    notice: str | None = None
    status = 200 if trade is not None else 404
    if request.method == "POST" and trade is not None:
        form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))
        outcome = (form.get("outcome") or [""])[0]
        try:
            apply_outcome(ctx, trade, outcome)
            notice = "支付成功" if outcome == "pay" else None
        except (InvalidTransition, TradeExpired, ValueError) as exc:
            notice, status = str(exc), 409
    return HTMLResponse(_render(trade, notice, redirect_url), status_code=status)
