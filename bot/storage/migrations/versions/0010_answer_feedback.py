"""feedback on answers (👍/👎 and "what was missing?"), per entry and language, without any user id;
usage events name the profile that answered (those stored before count as "default")

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "answer_feedback",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entry_id", sa.String(200), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("profile", sa.String(64), nullable=False),
        sa.Column("vote", sa.String(4), nullable=False),
        sa.Column("missing", sa.String(500), nullable=True),
    )
    op.create_index("ix_answer_feedback_at", "answer_feedback", ["at"])
    op.create_index("ix_answer_feedback_entry", "answer_feedback", ["entry_id"])
    with op.batch_alter_table("usage_events") as batch:
        batch.add_column(sa.Column("profile", sa.String(64), nullable=False, server_default="default"))


def downgrade() -> None:
    with op.batch_alter_table("usage_events") as batch:
        batch.drop_column("profile")
    op.drop_index("ix_answer_feedback_entry", "answer_feedback")
    op.drop_index("ix_answer_feedback_at", "answer_feedback")
    op.drop_table("answer_feedback")
