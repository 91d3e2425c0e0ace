"""Adapters between chat libraries and the core's Incoming/Reply types."""
