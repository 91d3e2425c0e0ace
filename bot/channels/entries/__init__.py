"""The built-in chat channels as registry entries (bot.channels.registry): one module each."""
