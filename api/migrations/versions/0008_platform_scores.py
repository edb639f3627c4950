"""platform-scored responses (issue 17): ``responses.answer`` is NULL when the delivery platform scored the
item and sent only its score (``responses.response``)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 08:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.alter_column("answer", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # a platform-scored response has no option to put back: it cannot go back to a NOT NULL column
    bind = op.get_bind()
    n = bind.execute(sa.text("SELECT count(*) FROM responses WHERE answer IS NULL")).scalar_one()
    if n:
        raise RuntimeError(f"{n} platform-scored responses have no answer; export them and delete them "
                           "before downgrading below 0008")
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.alter_column("answer", existing_type=sa.Integer(), nullable=False)
