"""Sandbox time: Beijing time (Alipay stamps everything in UTC+8) that tests can move on.

Trade deadlines (``timeout_express``/``time_expire``) and bill dates follow this clock;
``advance()`` lets a test jump past a QR code's expiry or into tomorrow without waiting.
Notification retry delays do not: they run on the event loop and scale with
``SandboxConfig.time_scale``.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

__all__ = ["BEIJING", "SandboxClock", "format_time", "format_time_ms", "parse_time"]

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
_FORMAT = "%Y-%m-%d %H:%M:%S"


class SandboxClock:
    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        return datetime.now(BEIJING) + offset

    def advance(self, seconds: float) -> datetime:
        """Move sandbox time forward (never backward) and return the new now."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()


def format_time(moment: datetime) -> str:
    """``2026-06-05 16:01:34`` in Beijing time."""
    return moment.astimezone(BEIJING).strftime(_FORMAT)


def format_time_ms(moment: datetime) -> str:
    """``2026-06-05 16:01:34.120``: ``gmt_refund`` carries milliseconds."""
    local = moment.astimezone(BEIJING)
    return local.strftime(_FORMAT) + f".{local.microsecond // 1000:03d}"


def parse_time(text: str) -> datetime:
    """Parse ``yyyy-MM-dd HH:mm:ss`` as Beijing time; ``ValueError`` if malformed."""
    return datetime.strptime(text, _FORMAT).replace(tzinfo=BEIJING)
