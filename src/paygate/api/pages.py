"""Server-rendered pages (the cashier on the public listener, the console on the internal
one): one Jinja2 environment over ``api/templates`` with autoescaping, the two languages,
and money shown from integer minor units (never a float)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from paygate.kit.money import to_decimal_string

__all__ = ["LANGUAGES", "STATIC_DIR", "language", "render", "templates"]

LANGUAGES: Final = ("en", "zh")
LANG_COOKIE: Final = "paygate_lang"
STATIC_DIR: Final = Path(str(files("paygate.api") / "static"))

#: Every text the pages show, in each language (the cashier is for payers in China and abroad).
TEXTS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "cashier": "Checkout",
        "order": "Order",
        "amount": "Amount",
        "expires_in": "Time left to pay",
        "choose": "Choose how to pay",
        "pay": "Pay",
        "card": "Card",
        "test_card": "Card (sandbox test cards)",
        "scan": "Scan the code with the app to pay",
        "waiting": "Waiting for the payment…",
        "open_qr": "Open the code's link",
        "expired": "This order has expired. Nothing was charged.",
        "succeeded": "Paid. Thank you!",
        "failed": "The payment failed.",
        "closed": "This order is closed.",
        "pending": "Waiting for the payment…",
        "unknown": "Checking the payment…",
        "created": "Starting the payment…",
        "back": "Back to the shop",
        "returning": "Taking you back to the shop…",
        "not_found": "This payment link is unknown or no longer valid.",
        "error": "The payment could not be started",
        "try_again": "Choose again",
        "language": "中文",
        "alipay.qr": "Alipay — scan a QR code",
        "alipay.page": "Alipay — pay on Alipay's site",
        "alipay.wap": "Alipay — mobile",
        "wechat.native": "WeChat Pay — scan a QR code",
        "wechat.h5": "WeChat Pay — mobile browser",
        "stripe.card": "Card (Visa, Mastercard …), 3-D Secure",
    },
    "zh": {
        "cashier": "收银台",
        "order": "订单",
        "amount": "金额",
        "expires_in": "剩余支付时间",
        "choose": "选择支付方式",
        "pay": "支付",
        "card": "银行卡",
        "test_card": "银行卡（沙箱测试卡）",
        "scan": "请使用 App 扫码支付",
        "waiting": "等待支付结果…",
        "open_qr": "打开二维码链接",
        "expired": "订单已过期，未扣款。",
        "succeeded": "支付成功，谢谢！",
        "failed": "支付失败。",
        "closed": "订单已关闭。",
        "pending": "等待支付结果…",
        "unknown": "正在确认支付结果…",
        "created": "正在发起支付…",
        "back": "返回商户",
        "returning": "正在返回商户…",
        "not_found": "支付链接无效或已失效。",
        "error": "无法发起支付",
        "try_again": "重新选择",
        "language": "English",
        "alipay.qr": "支付宝 — 扫码支付",
        "alipay.page": "支付宝 — 电脑网站支付",
        "alipay.wap": "支付宝 — 手机网站支付",
        "wechat.native": "微信支付 — 扫码支付",
        "wechat.h5": "微信支付 — H5 支付",
        "stripe.card": "银行卡（Visa、Mastercard …），3-D Secure",
    },
}


def language(request: Request) -> str:
    """``?lang=``, else the cookie the switch set, else the browser's Accept-Language."""
    chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"


def money(minor: int, currency: str) -> str:
    return f"{currency} {to_decimal_string(minor, currency)}"


@cache
def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("paygate.api", "templates"),
        autoescape=select_autoescape(["html"]),
        enable_async=False,
    )
    env.filters["money"] = money
    return env


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = language(request)
    html = (
        templates()
        .get_template(name)
        .render(lang=lang, t=TEXTS[lang], other="zh" if lang == "en" else "en", **context)
    )
    response = HTMLResponse(html, status_code=status_code)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, language(request), max_age=365 * 86400, samesite="lax", httponly=True
        )
    return response
