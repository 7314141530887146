"""Sandbox time: the wall clock plus an offset that tests and the control API move forward.

Everything a channel stamps or compares with "now" reads this clock: order deadlines, bill
dates, download-URL expiry, object timestamps. Moving it on lets a test reach tomorrow's
bill or an expired QR code without waiting. Delays of the sandbox's own work (notification
retries, refunds settling) do not follow it: they run on the event loop, scaled by
``SandboxConfig.time_scale`` (see :mod:`.scheduler`). Signatures checked by a receiver
(``Wechatpay-Timestamp``, ``Stripe-Signature``) keep real time, or a receiver with a
tolerance window would refuse them.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, tzinfo

__all__ = ["Clock"]


class Clock:
    """Aware datetimes in ``tz`` (a channel's own zone: Beijing for Alipay and WeChat Pay)."""

    def __init__(self, tz: tzinfo = UTC) -> None:
        self.tz = tz
        self._offset = timedelta(0)
        # The Python control surface may be called from a test's worker thread.
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        return datetime.now(self.tz) + offset

    def timestamp(self) -> int:
        """Unix seconds on the sandbox clock."""
        return int(self.now().timestamp())

    def advance(self, seconds: float) -> datetime:
        """Move sandbox time forward (never backward) and return the new now."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()
