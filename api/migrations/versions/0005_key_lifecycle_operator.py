"""key lifecycle (expiry, last use, rotation), organisations with type, sector and units, service signals
(issue 13)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 06:20:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("org_type", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("sector", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("units", sa.JSON(), nullable=True))
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("replaces", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_api_keys_revoked_at", ["revoked_at"], unique=False)
    signals = op.create_table(
        "service_signals",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.bulk_insert(signals, [{"name": "models", "generation": 0, "changed_at": datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table("service_signals")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_api_keys_revoked_at")
        batch_op.drop_column("replaces")
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("expires_at")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("units")
        batch_op.drop_column("sector")
        batch_op.drop_column("org_type")
