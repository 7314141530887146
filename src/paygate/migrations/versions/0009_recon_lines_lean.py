"""recon_lines written a million at a time: no foreign key, lighter indexes (issue 9, R-REC-1)

A day's bill writes every one of its lines into ``recon_lines`` in one statement; each index
and the foreign key are maintained per line (the foreign key alone cost ≈ 4 s of 16 for a
1,000,000-line bill). The run id is the reconciler's own (the run is claimed before any line
is written, and runs are never deleted), so the foreign key goes. A run's lines are found
through a BRIN index on PostgreSQL (they are written together, so they lie together; the
B-tree on (run, status) cost ≈ 1.6 s a million lines) and its open lines through a partial
index. ``attempt_no`` is looked up only for lines in discrepancy and ``refund_no`` only for
refund lines, so their indexes hold only those. (Partial and BRIN indexes on PostgreSQL;
SQLite has partial ones; MariaDB has neither and keeps whole B-trees.)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def _foreign_key_names() -> list[str | None]:
    return [fk.get("name") for fk in sa.inspect(op.get_bind()).get_foreign_keys("recon_lines")]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("recon_lines", naming_convention=_NAMES) as batch_op:
        for name in _foreign_key_names():
            batch_op.drop_constraint(
                "fk_recon_lines_run_id_recon_runs" if sqlite or name is None else name, type_="foreignkey"
            )
        batch_op.drop_index("ix_recon_lines_attempt_no")
        batch_op.drop_index("ix_recon_lines_refund_no")
        batch_op.drop_index("ix_recon_lines_run_status")
        batch_op.create_index(
            "ix_recon_lines_run", ["run_id"], postgresql_using="brin", postgresql_with={"autosummarize": "on"}
        )
        batch_op.create_index(
            "ix_recon_lines_open",
            ["run_id", "status"],
            postgresql_where=sa.text("status <> 'matched'"),
            sqlite_where=sa.text("status <> 'matched'"),
        )
        batch_op.create_index(
            "ix_recon_lines_attempt_no",
            ["attempt_no"],
            postgresql_where=sa.text("status = 'discrepancy'"),
            sqlite_where=sa.text("status = 'discrepancy'"),
        )
        batch_op.create_index(
            "ix_recon_lines_refund_no",
            ["refund_no"],
            postgresql_where=sa.text("refund_no IS NOT NULL"),
            sqlite_where=sa.text("refund_no IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("recon_lines", naming_convention=_NAMES) as batch_op:
        batch_op.drop_index("ix_recon_lines_attempt_no")
        batch_op.drop_index("ix_recon_lines_refund_no")
        batch_op.drop_index("ix_recon_lines_run")
        batch_op.drop_index("ix_recon_lines_open")
        batch_op.create_index("ix_recon_lines_run_status", ["run_id", "status"])
        batch_op.create_index("ix_recon_lines_attempt_no", ["attempt_no"])
        batch_op.create_index("ix_recon_lines_refund_no", ["refund_no"])
        batch_op.create_foreign_key("fk_recon_lines_run_id_recon_runs", "recon_runs", ["run_id"], ["id"])
