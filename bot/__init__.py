"""Bürgerbot: a city's chat contact point for its services (Telegram, Matrix, console)."""

__version__ = "0.1.0"
