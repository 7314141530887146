"""Identifiers shaped like Alipay's own."""

from __future__ import annotations

import secrets
import string
from datetime import datetime

from paygate.sandbox.alipay.clock import BEIJING

__all__ = ["new_cashier_token", "new_notify_id", "new_qr_token", "new_trade_no"]

_LOWER_ALNUM = string.ascii_lowercase + string.digits


def _digits(n: int) -> str:
    return "".join(str(secrets.randbelow(10)) for _ in range(n))


def new_trade_no(now: datetime) -> str:
    """28 digits: the date, ``2200``, then 16 more (``2026060522001419931441931972``)."""
    return now.astimezone(BEIJING).strftime("%Y%m%d") + "2200" + _digits(16)


def new_notify_id(now: datetime) -> str:
    """34 digits like ``2019091700222171638024131420866155``."""
    return now.astimezone(BEIJING).strftime("%Y%m%d") + "00222" + _digits(21)


def new_qr_token() -> str:
    """The path of a QR code, like ``bax03431ljhokirwl38f00a7``."""
    return "bax0" + "".join(secrets.choice(_LOWER_ALNUM) for _ in range(20))


def new_cashier_token() -> str:
    return secrets.token_urlsafe(18)
