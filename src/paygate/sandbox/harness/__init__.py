"""The machinery every channel sandbox shares, written once (R-CH-6).

- :mod:`.clock` — sandbox time, movable forward.
- :mod:`.scheduler` — delayed work in scaled channel seconds; runs between start and stop.
- :mod:`.faults` — latency, errors (with ``times``, before or after the effect), timeouts,
  hangs, lost / duplicated / reordered notifications, refunds that end late or badly.
- :mod:`.notifier` — notification delivery on the channel's own retry schedule, with a
  record of every attempt.
- :mod:`.control` — the ``/_sandbox/…`` control API.
- :mod:`.pages` — payer pages rendered by Jinja2 from each channel's ``templates/``.
- :mod:`.sandbox` — :class:`Harness` (all of the above for one sandbox) and
  :class:`HarnessedSandbox`, the base of each channel's sandbox class.

A channel's sandbox keeps only its protocol: wire format, signatures, validation, its
objects and bills. Nothing here knows a channel, and nothing here imports anything of
paygate but :mod:`paygate.sandbox` (``docs/sandbox/README.md``).
"""

from paygate.sandbox.harness.clock import Clock
from paygate.sandbox.harness.control import ControlError, Controls, json_body
from paygate.sandbox.harness.faults import (
    ANY,
    MANUAL,
    Faults,
    FaultSpecError,
    InjectedFault,
    RefundFate,
)
from paygate.sandbox.harness.notifier import Attempt, Delivery, DeliveryPolicy, Notifier, Undeliverable
from paygate.sandbox.harness.pages import Pages
from paygate.sandbox.harness.sandbox import Harness, HarnessedSandbox
from paygate.sandbox.harness.scheduler import Scheduler

__all__ = [
    "ANY",
    "MANUAL",
    "Attempt",
    "Clock",
    "ControlError",
    "Controls",
    "Delivery",
    "DeliveryPolicy",
    "FaultSpecError",
    "Faults",
    "Harness",
    "HarnessedSandbox",
    "InjectedFault",
    "Notifier",
    "Pages",
    "RefundFate",
    "Scheduler",
    "Undeliverable",
    "json_body",
]
