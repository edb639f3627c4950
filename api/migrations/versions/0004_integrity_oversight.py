"""test integrity and oversight (issue 13): practice mode per organisation and session, result reviews

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("practice_mode", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("diagnostic_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("practice", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "result_reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("area", sa.String(length=8), nullable=True),
        sa.Column("original_level", sa.Integer(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        sa.ForeignKeyConstraint(["session_id"], ["diagnostic_sessions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_result_reviews_session", "result_reviews", ["session_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_result_reviews_session", table_name="result_reviews")
    op.drop_table("result_reviews")
    with op.batch_alter_table("diagnostic_sessions", schema=None) as batch_op:
        batch_op.drop_column("practice")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("practice_mode")
