"""When the reliability engine asks a channel again about something still open (R-NTF-3).

A trade or refund that is not final carries ``next_check_at``; each check that leaves it open
moves it by the next interval of the channel's schedule — growing, so a quick answer is found
quickly and a slow one costs few queries — and the last interval repeats until it is final.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

__all__ = ["DEFAULT_SCHEDULE", "next_check"]

#: seconds: 1, 2, 5, 10, 20, 40, 100 (R-NTF-3), then every 5 and 10 minutes
DEFAULT_SCHEDULE: Final = (1, 2, 5, 10, 20, 40, 100, 300, 600)


def next_check(now: datetime, checks_done: int, schedule: Sequence[float] = DEFAULT_SCHEDULE) -> datetime:
    """When to ask again after ``checks_done`` checks (0: the first check)."""
    step = schedule[min(checks_done, len(schedule) - 1)]
    return now + timedelta(seconds=step)
