"""Alembic migrations; run with ``paygate migrate`` (see :mod:`paygate.kit.migrate`)."""
