"""Periodic jobs shared by every worker process (R-OPS-3)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from paygate.kit.db import Base, UTCDateTime


class ScheduledJob(Base):
    """One row per periodic job. A worker runs the job only after it won the row: a
    conditional UPDATE that moves ``next_run_at`` on and takes ``lease_until`` — so however
    many workers share the database, a run happens once per interval, and a worker that died
    mid-run gives the job back when its lease ends."""

    __tablename__ = "scheduled_jobs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_result: Mapped[str | None] = mapped_column(String(256), nullable=True)
