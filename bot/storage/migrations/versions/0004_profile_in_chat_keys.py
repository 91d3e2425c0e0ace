"""a chat's appointments and subscriptions belong to one profile (one Telegram user talks to
several bots of the city under the same chat id)

Revision ID: 0004
Revises: 0003
"""

import warnings

from alembic import op
from sqlalchemy.exc import SAWarning

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite cannot alter constraints in place, so the tables are copied.
    with op.batch_alter_table("subscriptions", recreate="auto") as batch:
        batch.drop_constraint("uq_subscriptions_chat", type_="unique")
        batch.create_unique_constraint("uq_subscriptions_chat", ["kind", "ref", "channel", "chat_id", "profile"])
    # The copy starts from the reflected old key; SQLAlchemy notes that the new one replaces it.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Table '_alembic_tmp_appointment_chats' specifies columns", SAWarning)
        with op.batch_alter_table("appointment_chats", recreate="always") as batch:
            batch.create_primary_key("pk_appointment_chats", ["appointment_id", "channel", "chat_id", "profile"])


def downgrade() -> None:
    with op.batch_alter_table("appointment_chats", recreate="always") as batch:
        batch.create_primary_key("pk_appointment_chats", ["appointment_id", "channel", "chat_id"])
    with op.batch_alter_table("subscriptions", recreate="auto") as batch:
        batch.drop_constraint("uq_subscriptions_chat", type_="unique")
        batch.create_unique_constraint("uq_subscriptions_chat", ["kind", "ref", "channel", "chat_id"])
