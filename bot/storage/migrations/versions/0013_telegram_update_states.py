"""How far each claimed Telegram update got (taken on, or its reply sent) and which process took it
on, so polling can confirm an update only after its answer and a restart answers what a killed
process had only taken on

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows claimed before count as answered ("1"): they are never answered again.
    op.add_column("telegram_updates", sa.Column("state", sa.SmallInteger(), nullable=False, server_default="1"))
    op.add_column("telegram_updates", sa.Column("owner", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("telegram_updates") as batch:
        batch.drop_column("owner")
        batch.drop_column("state")
