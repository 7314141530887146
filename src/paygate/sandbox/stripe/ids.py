"""Stripe-shaped identifiers and the sandbox clock."""

from __future__ import annotations

import secrets
import string
import time

__all__ = ["client_secret", "new_id", "now", "request_id"]

_ALPHABET = string.ascii_letters + string.digits


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str) -> str:
    """``pi_3MtwBwLkdIwHu7ix28a3tqPa``: a prefix and 24 base-62 characters, like Stripe."""
    return f"{prefix}_{_random(24)}"


def client_secret(intent_id: str) -> str:
    return f"{intent_id}_secret_{_random(25)}"


def request_id() -> str:
    return f"req_{_random(14)}"


def now() -> int:
    """Unix seconds, the unit of every Stripe timestamp."""
    return int(time.time())
