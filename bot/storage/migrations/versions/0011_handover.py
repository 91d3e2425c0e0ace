"""hand-overs to a person of the service team, their relayed messages, and the staff room copies
left to redact after "delete my data"

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "handovers",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(32), nullable=True, unique=True),
        sa.Column("profile", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("chat_id", sa.String(255), nullable=True),
        sa.Column("chat_pseudonym", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("turns", sa.Text(), nullable=False),
        sa.Column("staff_room", sa.String(255), nullable=False),
        sa.Column("root_event_id", sa.String(255), nullable=True, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(255), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.String(16), nullable=True),
    )
    op.create_index("ix_handovers_chat", "handovers", ["channel", "chat_id", "profile"])
    op.create_index("ix_handovers_chat_pseudonym", "handovers", ["chat_pseudonym"])
    op.create_index("ix_handovers_state", "handovers", ["state"])
    op.create_table(
        "handover_messages",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("handover_id", _BigId, sa.ForeignKey("handovers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=True, unique=True),
        sa.Column("sender", sa.String(255), nullable=True),
        sa.Column("done", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_handover_messages_handover_id", "handover_messages", ["handover_id"])
    op.create_index("ix_handover_messages_pending", "handover_messages", ["done"])
    op.create_table(
        "handover_redactions",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("handover_redactions")
    op.drop_index("ix_handover_messages_pending", "handover_messages")
    op.drop_index("ix_handover_messages_handover_id", "handover_messages")
    op.drop_table("handover_messages")
    op.drop_index("ix_handovers_state", "handovers")
    op.drop_index("ix_handovers_chat_pseudonym", "handovers")
    op.drop_index("ix_handovers_chat", "handovers")
    op.drop_table("handovers")
