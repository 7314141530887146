"""The console's seam for reconciliation (issue 9, R-REC-*, R-OPS-2): what the
reconciliation page needs, as a protocol, so that the reconciliation service plugs in with a
small adapter in ``bootstrap.py`` when it lands. Until then ``ConsoleServices.reconciliation``
is ``None`` and the page says that reconciliation is not installed.

Rows are plain JSON-ready dicts, shown as they are (their keys are the columns); a
discrepancy's ``id`` names it in the resolve form.
"""

from __future__ import annotations

from typing import Any, Protocol

from paygate.operators.directory import OperatorIdentity

__all__ = ["ReconciliationView"]


class ReconciliationView(Protocol):
    async def runs(self, limit: int) -> list[dict[str, Any]]:
        """Recent reconciliation runs, newest first."""
        ...

    async def open_discrepancies(self, limit: int) -> list[dict[str, Any]]:
        """Discrepancies waiting for a person, oldest first; each has an ``id``."""
        ...

    async def resolve(self, who: OperatorIdentity, discrepancy_id: str, reason: str) -> dict[str, Any]:
        """Close one with the operator's reason (refused with a PaygateError otherwise)."""
        ...
