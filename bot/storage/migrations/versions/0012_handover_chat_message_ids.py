"""the channel's id of a citizen's relayed message, unique within its hand-over, so a message the
channel delivers again after a crash is relayed once

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("handover_messages", sa.Column("chat_message_id", sa.String(255), nullable=True))
    op.create_index("uq_handover_messages_chat_message", "handover_messages", ["handover_id", "chat_message_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_handover_messages_chat_message", "handover_messages")
    op.drop_column("handover_messages", "chat_message_id")
