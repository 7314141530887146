"""Operators: the people who run paygate (R-SEC-5, R-OPS-2). Each has one role; what a role
may do is written here once and asked by every operator-facing entry point."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = ["PERMISSIONS", "OperatorRole", "Permission"]


class OperatorRole(StrEnum):
    VIEWER = "viewer"  # reads: trades, refunds, events, reconciliation
    APPROVER = "approver"  # + decides refunds in approval, records manual payouts
    ADMIN = "admin"  # + operators, apps, channel accounts, re-sending events


class Permission(StrEnum):
    READ = "read"
    DECIDE_REFUNDS = "decide_refunds"
    REQUEST_REFUNDS = "request_refunds"
    RESEND_EVENTS = "resend_events"
    RESOLVE_DISCREPANCIES = "resolve_discrepancies"
    MANAGE = "manage"  # operators, apps, channel accounts


PERMISSIONS: Final[dict[OperatorRole, frozenset[Permission]]] = {
    OperatorRole.VIEWER: frozenset({Permission.READ}),
    OperatorRole.APPROVER: frozenset(
        {
            Permission.READ,
            Permission.DECIDE_REFUNDS,
            Permission.REQUEST_REFUNDS,
            Permission.RESOLVE_DISCREPANCIES,
        }
    ),
    OperatorRole.ADMIN: frozenset(Permission),
}
