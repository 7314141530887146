"""Stripe's wire rules, written from the protocol (shared/spec/channels.md §3), never shared
with the sandbox.

* Requests are ``application/x-www-form-urlencoded`` with bracket keys: a hash becomes
  ``metadata[attempt_no]=…``, a list ``payment_method_types[0]=card``, a boolean
  ``true``/``false``; ``None`` is left out. Floats are refused: money is integers only.
* Every POST carries an ``Idempotency-Key`` derived from the operation and paygate's own
  number (``create:<attempt_no>``, ``refund:<refund_no>`` …): a retry, by us or by the
  service after a timeout, replays Stripe's first answer instead of charging twice.
* Webhooks: ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]``; ``v1`` is
  HMAC-SHA256 keyed with the whole ``whsec_…`` secret over ``f"{t}.{raw body}"``. Any one
  ``v1`` may match (secret rolls); ``t`` must lie within the tolerance of now.
* Client secrets (``pi_…_secret_…``) let a browser act on a PaymentIntent: they are masked
  wherever a wire object is recorded, as are the API key and webhook secret (never put in
  a record at all).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from paygate.kit.crypto import hmac_sha256_hex
from paygate.kit.masking import mask

__all__ = [
    "API_VERSION",
    "SIGNATURE_TOLERANCE_SECONDS",
    "SignatureError",
    "encode_form",
    "idempotency_key",
    "mask_wire",
    "parse_signature_header",
    "verify_signature",
]

#: The API version every request pins (the one stripe-python 16.1.0 pins): Stripe then
#: answers with the object shapes this adapter was written against, whatever the
#: account's default version is.
API_VERSION: Final = "2026-10-28.endive"

#: How far a webhook's ``t`` may lie from now (Stripe's libraries: 300 s).
SIGNATURE_TOLERANCE_SECONDS: Final = 300

_CLIENT_SECRET: Final = re.compile(r"\b((?:pi|seti|src)_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+")
_MASKED_SECRET: Final = r"\1_secret_***"


# --------------------------------------------------------------------------- requests


def _pairs(value: Any, name: str) -> Iterator[tuple[str, str]]:
    if value is None:
        return
    if isinstance(value, bool):
        yield name, "true" if value else "false"
    elif isinstance(value, int | str):
        yield name, str(value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _pairs(item, f"{name}[{key}]")
    elif isinstance(value, Sequence):
        for index, item in enumerate(value):
            yield from _pairs(item, f"{name}[{index}]")
    else:
        raise TypeError(f"cannot send {type(value).__name__} as Stripe parameter {name!r}")


def encode_form(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Flatten nested parameters into Stripe's bracket keys, in the order given.

    ``{"metadata": {"a": "1"}, "types": ["card"], "confirm": True}`` →
    ``[("metadata[a]", "1"), ("types[0]", "card"), ("confirm", "true")]``.
    """
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        out.extend(_pairs(value, str(key)))
    return out


def idempotency_key(operation: str, number: str) -> str:
    """``create:<attempt_no>``: one key per paygate number and operation, so repeating the
    operation for that number can only ever replay the first request's answer."""
    if not number:
        raise ValueError("an idempotency key needs paygate's number")
    return f"{operation}:{number}"


# --------------------------------------------------------------------------- records


def _mask_strings(value: Any) -> Any:
    if isinstance(value, str):
        return _CLIENT_SECRET.sub(_MASKED_SECRET, value)
    if isinstance(value, Mapping):
        return {k: _mask_strings(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_strings(v) for v in value]
    return value


def mask_wire(data: Any) -> Any:
    """A copy of a wire object safe to record: ``client_secret`` fields and every
    ``pi_…_secret_…`` inside a string (a 3-D Secure URL carries one) masked, plus the
    platform's generic masking of secrets and account numbers."""
    return mask(_mask_strings(data))


# --------------------------------------------------------------------------- webhooks


class SignatureError(ValueError):
    """A ``Stripe-Signature`` that is missing, malformed, stale or does not match."""


@dataclass(frozen=True)
class SignatureHeader:
    timestamp: int
    signatures: tuple[str, ...]  # the v1 values


def parse_signature_header(header: str) -> SignatureHeader:
    """``t=…,v1=…[,v1=…][,v0=…]``: the first ``t`` and every ``v1`` (other schemes, such as
    Stripe's test-only ``v0``, are ignored)."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t" and timestamp is None:
            if not value.isdigit():
                raise SignatureError("the signature's timestamp is not a number")
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None:
        raise SignatureError("the signature header has no timestamp")
    if not signatures:
        raise SignatureError("the signature header has no v1 signature")
    return SignatureHeader(timestamp, tuple(signatures))


def expected_signature(secret: str, timestamp: int, payload: bytes) -> str:
    return hmac_sha256_hex(secret.encode(), str(timestamp).encode() + b"." + payload)


def verify_signature(
    payload: bytes,
    header: str,
    secret: str,
    now: int,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
) -> int:
    """Check a webhook's ``Stripe-Signature`` over the raw body; returns its timestamp.
    Raises :class:`SignatureError`. Every ``v1`` is compared in constant time."""
    if not secret:
        raise SignatureError("no webhook secret configured")
    parsed = parse_signature_header(header)
    expected = expected_signature(secret, parsed.timestamp, payload).encode()
    matched = False
    for candidate in parsed.signatures:
        # Bytes, so a non-ASCII forgery is just a mismatch; no early exit.
        matched |= hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
    if not matched:
        raise SignatureError("no v1 signature matches the payload")
    if abs(now - parsed.timestamp) > tolerance:
        raise SignatureError(f"the signature's timestamp is more than {tolerance} s from now")
    return parsed.timestamp
