"""The authenticated app a request comes from."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AppContext"]


@dataclass(frozen=True)
class AppContext:
    """The app making the call: who it is and what it may use."""

    app_id: str
    allowed_pay_types: frozenset[str]
    notify_url: str | None = None
