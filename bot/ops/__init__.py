"""Operating the bot: metrics, logs and the configuration check (no chat or web library here)."""
