"""staff dashboard: per-person accounts (argon2 hashes) and their sessions (hashed ids)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_accounts",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("account", sa.String(64), sa.ForeignKey("staff_accounts.name", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_staff_sessions_expires_at", "staff_sessions", ["expires_at"])
    op.create_index("ix_staff_sessions_account", "staff_sessions", ["account"])


def downgrade() -> None:
    op.drop_index("ix_staff_sessions_account", "staff_sessions")
    op.drop_index("ix_staff_sessions_expires_at", "staff_sessions")
    op.drop_table("staff_sessions")
    op.drop_table("staff_accounts")
