"""privacy (issue 13): units a supervisor key may see; the anonymised response log of erased learners;
an index on responses.learner_id (erasure and purge)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 06:30:00

A new table rather than nullable ``responses.session_id/learner_id``: the live response log stays the
CAT log of its session (unique (session_id, sequence), NOT NULL links), and erasure moves a learner's rows
out of it, stripped, in one transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("units", sa.JSON(), nullable=True))
    op.create_table(
        "anonymous_responses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("response", sa.Integer(), nullable=False),
        sa.Column("bank_version", sa.String(length=32), nullable=False),
        sa.Column("administered_month", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_anonymous_responses_org_id", "anonymous_responses", ["org_id"], unique=False)
    op.create_index("ix_responses_learner", "responses", ["learner_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_responses_learner", table_name="responses")
    op.drop_index("ix_anonymous_responses_org_id", table_name="anonymous_responses")
    op.drop_table("anonymous_responses")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("units")
