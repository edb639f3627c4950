"""platform standards (issue 17): 1EdTech CAT sections and which diagnostics are their sessions; xAPI
statements received

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cat_sections",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("bank_version", sa.String(length=32), nullable=False),
        sa.Column("configuration", sa.JSON(), nullable=False),
        sa.Column("section", sa.JSON(), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_cat_sections_org_request", "cat_sections", ["org_id", "request_sha256"], unique=False)
    op.create_table(
        "cat_section_sessions",
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("section_id", sa.String(length=36), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["section_id"], ["cat_sections.id"]),
        sa.ForeignKeyConstraint(["session_id"], ["diagnostic_sessions.id"]),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_index(
        op.f("ix_cat_section_sessions_section_id"), "cat_section_sessions", ["section_id"], unique=False
    )
    op.create_table(
        "xapi_statements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.String(length=36), nullable=False),
        sa.Column("verb", sa.Text(), nullable=False),
        sa.Column("activity_id", sa.Text(), nullable=True),
        sa.Column("event", sa.String(length=16), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("statement", sa.JSON(), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"]),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "statement_id", name="uq_xapi_statements_org_statement"),
    )
    op.create_index("ix_xapi_statements_learner", "xapi_statements", ["learner_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_xapi_statements_learner", table_name="xapi_statements")
    op.drop_table("xapi_statements")
    op.drop_index(op.f("ix_cat_section_sessions_section_id"), table_name="cat_section_sessions")
    op.drop_table("cat_section_sessions")
    op.drop_index("ix_cat_sections_org_request", table_name="cat_sections")
    op.drop_table("cat_sections")
