"""Yuan strings on the wire, integer fen inside the sandbox."""

from __future__ import annotations

import re

__all__ = ["MAX_TOTAL_FEN", "MIN_TOTAL_FEN", "format_fen", "parse_yuan"]

MIN_TOTAL_FEN = 1  # 0.01
MAX_TOTAL_FEN = 100_000_000_00  # 100000000.00
_YUAN = re.compile(r"(0|[1-9][0-9]{0,10})(?:\.([0-9]{1,2}))?")


def parse_yuan(value: object) -> int | None:
    """``"12.3"`` → 1230. ``None`` when the value is not a non-negative amount with at
    most two decimals. JSON numbers are accepted as Alipay does (``"total_amount":0.01``);
    the gateway parses them as text so no float rounding happens."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    match = _YUAN.fullmatch(str(value))
    if match is None:
        return None
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def format_fen(fen: int) -> str:
    """1230 → ``"12.30"``; -1 → ``"-0.01"``."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"
