"""Stripe's idempotent requests: ``Idempotency-Key`` on POST, scoped to the API key.

The first response of an endpoint that *started executing* is saved (status and body, 500s
included) for 24 hours; a retry with the same key and parameters gets it back with
``Idempotent-Replayed: true``. The same key with other parameters, or on another endpoint,
is a 400 ``idempotency_error``; while the first request is still running a retry gets 409.
Parameter validation failures are not saved, so a corrected retry may reuse the key.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from .errors import StripeError

__all__ = ["RETENTION_SECONDS", "Idempotency", "Saved"]

RETENTION_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Saved:
    endpoint: str
    fingerprint: str
    status: int
    body: bytes
    request_id: str
    saved_at: float


def _scope(api_key: str, key: str) -> tuple[str, str]:
    # Keep a digest of the API key, never the key itself.
    return hashlib.sha256(api_key.encode()).hexdigest(), key


def fingerprint(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


class Idempotency:
    def __init__(self) -> None:
        self._saved: dict[tuple[str, str], Saved] = {}
        self._running: set[tuple[str, str]] = set()

    def _prune(self) -> None:
        cutoff = time.monotonic() - RETENTION_SECONDS
        for scope in [s for s, v in self._saved.items() if v.saved_at < cutoff]:
            del self._saved[scope]

    def begin(self, api_key: str, key: str, endpoint: str, params: dict[str, Any]) -> Saved | None:
        """The saved response to replay, or None after marking the key as running.
        Raises the idempotency errors."""
        if len(key) > MAX_KEY_LENGTH:
            raise StripeError(
                400,
                "invalid_request_error",
                f"Idempotency-Key must be at most {MAX_KEY_LENGTH} characters long.",
                saved=False,
            )
        self._prune()
        scope = _scope(api_key, key)
        saved = self._saved.get(scope)
        if saved is not None:
            if saved.endpoint != endpoint:
                raise StripeError(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used for the same endpoint they "
                    f"were first used for ('{saved.endpoint}' vs '{endpoint}'). Try using a "
                    f"key other than '{key}' if you meant to execute a different request.",
                    saved=False,
                )
            if saved.fingerprint != fingerprint(params):
                raise StripeError(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters "
                    f"they were first used with. Try using a key other than '{key}' if you "
                    "meant to execute a different request.",
                    saved=False,
                )
            return saved
        if scope in self._running:
            raise StripeError(
                409,
                "invalid_request_error",
                "There is currently another in-progress request using this Stripe "
                f"idempotency key (that probably means you submitted twice, and the other "
                f"request is still going through): {key}. Please try again later.",
                code="idempotency_key_in_use",
                saved=False,
            )
        self._running.add(scope)
        return None

    def save(
        self,
        api_key: str,
        key: str,
        endpoint: str,
        params: dict[str, Any],
        status: int,
        body: bytes,
        request_id: str,
    ) -> None:
        self._saved[_scope(api_key, key)] = Saved(
            endpoint, fingerprint(params), status, body, request_id, time.monotonic()
        )

    def finish(self, api_key: str, key: str) -> None:
        self._running.discard(_scope(api_key, key))
