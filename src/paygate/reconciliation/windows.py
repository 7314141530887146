"""When a bill's day begins and ends, and what waits for the next day's bill (R-REC-3).

Alipay and WeChat Pay cut their bills at midnight Beijing time; Stripe's balance
transactions are listed by UTC day (as paygate's adapter asks for them). A payment paygate
counted in the last ``cutoff`` of a day may be booked by the channel on the next day: it is
*deferred* — reported only if the next day's bill does not hold it either.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Final

__all__ = ["BILL_ZONES", "BillWindow", "bill_window"]

_BEIJING: Final = timezone(timedelta(hours=8), "Asia/Shanghai")
#: channel → the time zone its bill days are cut in (default UTC)
BILL_ZONES: Final[dict[str, tzinfo]] = {"alipay": _BEIJING, "wechatpay": _BEIJING, "stripe": UTC}


class BillWindow:
    def __init__(self, start: datetime, end: datetime, cutoff: timedelta) -> None:
        self.start, self.end, self.cutoff = start, end, cutoff

    def near_end(self, moment: datetime) -> bool:
        """Whether ``moment`` is in the cut-off buffer before the end of the day."""
        return moment >= self.end - self.cutoff


def bill_window(channel: str, bill_date: date, cutoff: timedelta) -> BillWindow:
    zone = BILL_ZONES.get(channel, UTC)
    start = datetime.combine(bill_date, time.min, zone).astimezone(UTC)
    return BillWindow(start, start + timedelta(days=1), cutoff)


def yesterday(channel: str, now: datetime) -> date:
    """The last day whose bill may exist, in the channel's time zone."""
    return (now.astimezone(BILL_ZONES.get(channel, UTC)) - timedelta(days=1)).date()
