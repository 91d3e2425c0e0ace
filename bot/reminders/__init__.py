"""Appointment reminders: signed deep-link tokens that subscribe a chat to an appointment."""
