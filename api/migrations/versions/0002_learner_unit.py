"""learners carry an optional organisational unit (insights per unit, issue 8)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 05:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("learners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_learners_org_unit", ["org_id", "unit"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("learners", schema=None) as batch_op:
        batch_op.drop_index("ix_learners_org_unit")
        batch_op.drop_column("unit")
