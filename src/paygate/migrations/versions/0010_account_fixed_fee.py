"""channel accounts: a fixed fee per payment and the currency of the fee terms (issue 9, R-REC-2)

Stripe charges a percentage plus a fixed amount per card payment (2.9 % + 30¢ on a USD
account), so a rate in basis points alone cannot say what a Stripe fee should be.
``fee_fixed`` is that fixed part in minor units of ``fee_currency`` (the account's
settlement currency); reconciliation checks only the lines in that currency when it is set.
Existing accounts keep their flat rate: no fixed part, no currency (every line checked, as
before).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channel_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fee_fixed", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("fee_currency", sa.String(length=3), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channel_accounts", schema=None) as batch_op:
        batch_op.drop_column("fee_currency")
        batch_op.drop_column("fee_fixed")
