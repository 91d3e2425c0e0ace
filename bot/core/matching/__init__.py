"""Intent matcher: normalisation, features, a trained sparse linear index, ranked matches.

Import the modules themselves (``bot.core.matching.matcher``): this package file stays empty so
that a process needing only normalisation (a reminder worker) does not load NumPy and SciPy.
"""
