"""Database tables (SQLAlchemy 2). Every change to them comes with an Alembic migration."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Index, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ChatStateRow(Base):
    """What outlives a restart of one chat's dialogue: the language choice."""

    __tablename__ = "chat_states"
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    language: Mapped[str | None] = mapped_column(String(8))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class UnansweredRow(Base):
    """A question the bot could not answer. Deliberately without any user or chat id."""

    __tablename__ = "unanswered_questions"
    __table_args__ = (Index("ix_unanswered_asked_at", "asked_at"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    asked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    language: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(String(1000))
