"""The staff dashboard at /staff/ on the operations server (see bot.web.staff.app)."""
