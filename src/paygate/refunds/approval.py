"""Which refunds wait for an operator's approval (R-REF-5, R-SEC-5).

Rules are configuration (``PAYGATE_REFUND_APPROVAL_RULES``, docs/operations.md). A rule names
an app (``*``: every app) and one condition; the first rule that matches sends the refund to
the approval queue instead of the channel:

- ``always``: every refund of the app;
- ``above``: a refund of more than this many minor units;
- ``daily_total_above``: when the app's refunds today (UTC, in the refund's currency, failed
  and rejected ones excepted) would pass this total with this one.

Refunds the platform starts itself (a repeat payment, a payment after close) return money
that was never owed, and are not held.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from paygate.repositories import UnitOfWork

__all__ = ["ApprovalPolicy", "ApprovalRule"]


@dataclass(frozen=True)
class ApprovalRule:
    app_id: str = "*"
    always: bool = False
    above: int | None = None
    daily_total_above: int | None = None

    def applies_to(self, app_id: str) -> bool:
        return self.app_id in ("*", app_id)


class ApprovalPolicy:
    def __init__(self, rules: Sequence[ApprovalRule]) -> None:
        self._rules = list(rules)

    async def reason_to_hold(
        self, uow: UnitOfWork, app_id: str, amount: int, currency: str, now: datetime
    ) -> str | None:
        """Why this refund needs approval, or None when it may go to the channel."""
        for rule in self._rules:
            if not rule.applies_to(app_id):
                continue
            if rule.always:
                return f"every refund of {rule.app_id} is approved by an operator"
            if rule.above is not None and amount > rule.above:
                return f"above {rule.above} minor units"
            if rule.daily_total_above is not None:
                midnight = datetime(now.year, now.month, now.day, tzinfo=UTC)
                today = await uow.refunds.total_since(app_id, midnight, currency)
                if today + amount > rule.daily_total_above:
                    return f"the app's refunds today would pass {rule.daily_total_above} minor units"
        return None
