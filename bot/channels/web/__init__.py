"""The web chat channel: a widget for the city's pages and a full chat page, over WebSocket with
an HTTP fallback, on its own public listener (``[web]``)."""

from bot.channels.web.channel import CHANNEL, WebChannel, WebSettings

__all__ = ["CHANNEL", "WebChannel", "WebSettings"]
