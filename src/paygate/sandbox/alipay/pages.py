"""The HTML a person sees: the cashier (after scanning a QR code or opening a page/wap pay
URL) with Pay / Fail / Cancel buttons, the result page, and Alipay's error page for a
bad page-pay request. Every interpolated value is escaped."""

from __future__ import annotations

from html import escape

from paygate.sandbox.alipay.amounts import format_fen
from paygate.sandbox.alipay.clock import format_time
from paygate.sandbox.alipay.errors import AlipayError
from paygate.sandbox.alipay.trades import Trade, TradeState

__all__ = ["cashier_page", "error_page", "message_page"]

_STYLE = """
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;background:#f5f5f5;
margin:0;padding:2em}main{max-width:28em;margin:auto;background:#fff;border-radius:8px;
padding:1.5em;box-shadow:0 1px 4px #0002}h1{font-size:1.2em;color:#1677ff}
.amount{font-size:2em;margin:.3em 0}dl{display:grid;grid-template-columns:auto 1fr;gap:.3em 1em}
dt{color:#888}dd{margin:0;word-break:break-all}button{font-size:1em;padding:.6em 1.2em;
margin:.3em;border-radius:4px;border:1px solid #ccc;cursor:pointer}
button[value=pay]{background:#1677ff;color:#fff;border-color:#1677ff}.notice{color:#d4380d}
"""


def _page(title: str, inner: str) -> str:
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{inner}</main></body></html>"
    )


def _facts(trade: Trade) -> str:
    rows = [
        ("商品", trade.subject),
        ("商户订单号", trade.out_trade_no),
        ("支付宝交易号", trade.trade_no or "—"),
        ("交易状态", trade.state.value),
        ("付款截止", format_time(trade.deadline)),
    ]
    if trade.buyer:
        rows.append(("买家", trade.buyer.masked_logon_id))
    cells = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return f'<p class="amount">¥ {escape(format_fen(trade.total_amount))}</p><dl>{cells}</dl>'


def cashier_page(trade: Trade, action_url: str, notice: str = "") -> str:
    """The cashier; buttons only while the trade waits for the buyer."""
    note = f'<p class="notice">{escape(notice)}</p>' if notice else ""
    if trade.state is TradeState.WAIT_BUYER_PAY:
        actions = (
            f'<form method="post" action="{escape(action_url)}">'
            '<button name="outcome" value="pay">确认付款 Pay</button>'
            '<button name="outcome" value="fail">付款失败 Fail</button>'
            '<button name="outcome" value="cancel">取消 Cancel</button></form>'
        )
    else:
        actions = f"<p>{escape(_STATE_TEXT[trade.state])}</p>"
    return _page("支付宝沙箱收银台", f"<h1>支付宝沙箱收银台</h1>{note}{_facts(trade)}{actions}")


_STATE_TEXT = {
    TradeState.ISSUED: "等待扫码",
    TradeState.WAIT_BUYER_PAY: "等待付款",
    TradeState.TRADE_SUCCESS: "支付成功",
    TradeState.TRADE_CLOSED: "交易已关闭",
    TradeState.TRADE_FINISHED: "交易结束",
}


def message_page(title: str, message: str, trade: Trade | None = None, link: str = "") -> str:
    facts = _facts(trade) if trade else ""
    back = f'<p><a href="{escape(link)}">返回商户</a></p>' if link else ""
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>{facts}{back}")


def error_page(error: AlipayError) -> str:
    """What Alipay shows for a bad page-pay request (``isv.`` dropped from the code)."""
    code = error.sub_code.removeprefix("isv.")
    return _page(
        "支付宝 - 网上支付 安全快速！",
        "<h1>调试错误，请回到请求来源地，重新发起请求。</h1>"
        f'<p>错误代码 <b id="sub_code">{escape(code)}</b> 错误原因: {escape(error.sub_msg)}</p>',
    )
