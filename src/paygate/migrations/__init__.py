"""Alembic migrations; run with ``paygate migrate`` (see :mod:`paygate.migrations.runner`)."""
