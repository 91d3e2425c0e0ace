"""Channel-free core: knowledge model, matching and dialogue.

Nothing here imports a chat, database or scheduler library; adapters translate to and from the
types in :mod:`bot.core.models`.
"""
