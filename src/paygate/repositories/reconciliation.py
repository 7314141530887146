"""All SQL of reconciliation (R-REC-1..5): runs claimed once per account and day, bill lines
staged in bulk (COPY on PostgreSQL), matched against trades, repeat payments and refunds by
set-based UPDATEs, and what is left over read back for classification.

The matching statements are ``UPDATE … FROM`` (PostgreSQL, SQLite) or multi-table ``UPDATE``
(MariaDB); SQLAlchemy renders each. They only touch lines still ``unmatched``, so running
them again after auto-resolution matches what the resolution fixed and nothing twice.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from paygate.repositories.recon_base import LINE_COLUMNS, LeftOver, MissingItem, Reconciled
from paygate.repositories.recon_findings import Findings
from paygate.repositories.recon_matching import RunsAndMatching
from paygate.repositories.recon_records import Records

__all__ = ["LINE_COLUMNS", "LeftOver", "MissingItem", "Reconciled", "ReconciliationRepository"]


class ReconciliationRepository(RunsAndMatching, Findings, Records):
    """The repository of a unit of work (``uow.reconciliation``), in three parts by use."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
