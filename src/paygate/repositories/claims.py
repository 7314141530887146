"""Claiming rows that several worker processes compete for (R-OPS-3).

A claim is a short transaction: ``SELECT … FOR UPDATE SKIP LOCKED`` picks rows no other
transaction holds, and the caller stamps them with a lease (a time and a token) before it
commits. The work itself happens outside the transaction; a worker that dies leaves its rows
to the next one when the lease ends. PostgreSQL and MariaDB (10.6+) skip locked rows; SQLite
has no row locks (SQLAlchemy renders no ``FOR UPDATE``) and serialises writers, which is
enough for the single process it serves.

Other repositories use :func:`skip_locked` for their own claimable work::

    rows = await session.execute(skip_locked(select(Refund.id).where(...).limit(50)))
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select

__all__ = ["skip_locked"]

S = TypeVar("S", bound=Select[Any])


def skip_locked(statement: S) -> S:
    """``statement`` with ``FOR UPDATE SKIP LOCKED`` (nothing on SQLite)."""
    return statement.with_for_update(skip_locked=True)
