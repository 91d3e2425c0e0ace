"""unanswered questions carry the chat's pseudonym, so that "delete my data" deletes them too

Questions stored before have none and stay until their retention ends.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("unanswered_questions") as batch:
        batch.add_column(sa.Column("chat_pseudonym", sa.String(64), nullable=True))
        batch.create_index("ix_unanswered_chat_pseudonym", ["chat_pseudonym"])


def downgrade() -> None:
    with op.batch_alter_table("unanswered_questions") as batch:
        batch.drop_index("ix_unanswered_chat_pseudonym")
        batch.drop_column("chat_pseudonym")
