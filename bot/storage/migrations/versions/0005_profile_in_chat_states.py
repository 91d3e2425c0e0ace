"""a chat's state (its language choice) belongs to one profile, like its appointments and
subscriptions since 0004: a language chosen in the Welcome Center must not switch the citizens' bot

Rows from before come through as profile 'default': which bot they were chosen in is unknown. A
deployment with named profiles can hand them to one of its bots once after the upgrade, e.g.
``UPDATE chat_states SET profile = 'buerger' WHERE profile = 'default';``

Revision ID: 0005
Revises: 0004
"""

import warnings

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import SAWarning

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Which bot a stored choice was made with is not known, so existing rows go to the profile
    # "default" (Incoming's and ChatRef's default): named profiles start without a stored choice.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Table '_alembic_tmp_chat_states' specifies columns", SAWarning)
        with op.batch_alter_table("chat_states", recreate="always") as batch:
            batch.add_column(sa.Column("profile", sa.String(64), nullable=False, server_default="default"))
            batch.create_primary_key("pk_chat_states", ["channel", "chat_id", "profile"])


def downgrade() -> None:
    # One row per chat again: keep the choice made last, which is the one the old key would have kept.
    op.execute(
        "DELETE FROM chat_states WHERE EXISTS (SELECT 1 FROM chat_states newer"
        " WHERE newer.channel = chat_states.channel AND newer.chat_id = chat_states.chat_id"
        " AND (newer.updated_at > chat_states.updated_at"
        " OR (newer.updated_at = chat_states.updated_at AND newer.profile > chat_states.profile)))"
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Table '_alembic_tmp_chat_states' specifies columns", SAWarning)
        with op.batch_alter_table("chat_states", recreate="always") as batch:
            batch.drop_column("profile")
            batch.create_primary_key("pk_chat_states", ["channel", "chat_id"])
