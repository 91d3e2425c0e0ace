"""Telegram updates already taken on, per profile, so a re-delivered update is not answered twice

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telegram_updates",
        sa.Column("profile", sa.String(64), primary_key=True),
        sa.Column("update_id", sa.BigInteger(), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_telegram_updates_seen_at", "telegram_updates", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_telegram_updates_seen_at", "telegram_updates")
    op.drop_table("telegram_updates")
