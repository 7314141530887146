"""Masking of anything that is logged or returned (R-API-4, R-SEC-4)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

__all__ = ["SENSITIVE_KEYS", "mask", "mask_value"]

#: Field names whose values are never shown (matched case-insensitively, as substrings).
SENSITIVE_KEYS: Final = (
    "secret",
    "private_key",
    "password",
    "sign",
    "token",
    "apiv3",
    "api_key",
    "authorization",
    "auth_code",
    "card_number",
    "cvc",
    "cvv",
    "master_key",
)
_ACCOUNT_KEYS: Final = ("account", "logon_id", "phone", "mobile", "email", "openid", "buyer_id", "id_card")
_LONG_DIGITS = re.compile(r"\d{12,19}")


def mask_value(value: str) -> str:
    """Keep the first 3 and last 4 characters of an identifier: ``6222****1234``."""
    if len(value) <= 7:
        return "*" * len(value)
    return f"{value[:3]}****{value[-4:]}"


_KEEP, _SECRET, _ACCOUNT = 0, 1, 2


@lru_cache(maxsize=4096)
def _kind(key: str) -> int:
    """What a field name says about its value; field names are few, so this is decided once
    per name (a hot path: every answer and every call-log row is masked)."""
    k = key.lower()
    if any(s in k for s in SENSITIVE_KEYS):
        return _SECRET
    if any(s in k for s in _ACCOUNT_KEYS):
        return _ACCOUNT
    return _KEEP


def mask(data: Any, *, depth: int = 0) -> Any:
    """A copy of ``data`` with secrets removed and account numbers shortened."""
    if depth > 8:
        return "…"
    if isinstance(data, Mapping):
        out: dict[str, Any] = {}
        for key, value in data.items():
            skey = key if type(key) is str else str(key)
            kind = _kind(skey)
            if kind == _SECRET:
                out[skey] = "***" if value not in (None, "") else value
            elif kind == _ACCOUNT and isinstance(value, str):
                out[skey] = mask_value(value)
            elif value is None or type(value) in (int, bool, float):
                out[skey] = value
            else:
                out[skey] = mask(value, depth=depth + 1)
        return out
    if isinstance(data, str):
        # a bare 12–19 digit number may be a card number
        return mask_value(data) if 12 <= len(data) <= 19 and _LONG_DIGITS.fullmatch(data) else data
    if isinstance(data, list | tuple):
        return [mask(v, depth=depth + 1) for v in data]
    return data
