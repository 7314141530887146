"""What the outbox relay (``paygate.events.relay``) needs of a broker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["BrokerMessage", "PublishError", "Publisher"]


@dataclass(frozen=True)
class BrokerMessage:
    message_id: str  # the event id: consumers de-duplicate on it
    routing_key: str  # the event type, e.g. trade.succeeded
    body: bytes
    app_id: str | None


class PublishError(Exception):
    """The broker could not be reached or refused the messages (retried later)."""


class Publisher(Protocol):
    """A broker connection. ``publish`` returns the ids of the messages the broker confirmed;
    it raises :class:`PublishError` when it could publish none."""

    async def publish(self, messages: Sequence[BrokerMessage]) -> set[str]: ...

    async def close(self) -> None: ...
