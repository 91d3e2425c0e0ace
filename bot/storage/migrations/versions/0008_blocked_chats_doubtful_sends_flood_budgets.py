"""reminders at least once and chats that blocked the bot: ``reminders.doubtful_sends`` counts sends
that may have arrived before the row was sent again (rows held ``in_doubt`` go back to the queue);
``blocked_chats`` holds a chat's reminders while it blocks the bot; ``flood_budgets`` is the send
budget of one bot token shared by every process

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.add_column(sa.Column("doubtful_sends", sa.Integer(), nullable=False, server_default="0"))
    # Rows held "in doubt" (a send that may or may not have arrived) are sent again, as every such
    # send is from here on: those that came too late are dropped when they are claimed.
    op.execute("UPDATE reminders SET status = 'pending', worker = NULL, lease_until = NULL, doubtful_sends = 1 WHERE status = 'in_doubt'")
    op.create_table(
        "blocked_chats",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("chat_id", sa.String(255), primary_key=True),
        sa.Column("profile", sa.String(64), primary_key=True),
        sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_blocked_chats_at", "blocked_chats", ["blocked_at"])
    op.create_table(
        "flood_budgets",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("next_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("flood_budgets")
    op.drop_index("ix_blocked_chats_at", "blocked_chats")
    op.drop_table("blocked_chats")
    # Held reminders go back to the queue: the schema before this one has no way to hold them.
    op.execute("UPDATE reminders SET status = 'pending' WHERE status = 'blocked'")
    with op.batch_alter_table("reminders") as batch:
        batch.drop_column("doubtful_sends")
