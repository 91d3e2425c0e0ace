"""Test doubles for external services (see ``telegram_api`` for the fake Telegram Bot API)."""

from .telegram_api import DEFAULT_TOKEN, FakeBotApi, parse_html

__all__ = ["DEFAULT_TOKEN", "FakeBotApi", "parse_html"]
