"""Intent matcher: normalisation, features, a trained sparse linear index, ranked matches."""

from bot.core.matching.matcher import Match, Matcher, MatchResult

__all__ = ["Match", "MatchResult", "Matcher"]
