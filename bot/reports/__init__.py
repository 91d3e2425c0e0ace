"""Reports for city staff: unanswered questions, usage, stale entries, and the new-entry template."""
