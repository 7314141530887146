"""Operators and the audit record of what they did (R-SEC-5, R-OPS-2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from paygate.domain.operators import OperatorRole
from paygate.kit.clock import utc_now
from paygate.kit.db import Base, BigId, EnumText, UTCDateTime


class Operator(Base):
    """A person with a role. ``password_hash`` is an Argon2id hash (argon2-cffi); repeated
    failed logins lock the account until ``locked_until``."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[OperatorRole] = mapped_column(EnumText(OperatorRole, 16))
    password_hash: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class OperatorAction(Base):
    """One thing an operator did (or tried and was refused), kept for audit."""

    __tablename__ = "operator_actions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    operator: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # done | refused
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, index=True)
