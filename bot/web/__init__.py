"""HTTP interfaces: the back-office API (and the operations endpoints)."""
