"""Events: what paygate tells the apps (R-NTF-5) and other services (R-NTF-6).

- :func:`record` — the one call that emits an event, inside the unit of work of the state
  change it announces (the outbox). Payments call it for trades; refunds for refunds.
- :mod:`.dispatch` — delivers events to the apps' notify URLs, signed the Standard Webhooks
  way, with retries, per-trade order and dead-lettering; every attempt recorded.
- :mod:`.relay` — publishes events to the message broker with publisher confirms.
- :mod:`.console` — what operators see and do: list, inspect, re-send.
"""

from paygate.events.recording import build, event_body, record

__all__ = ["build", "event_body", "record"]
