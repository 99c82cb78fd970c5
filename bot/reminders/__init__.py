"""Deadline reminders: what is due and to whom (`ticks`), and running the ticks in exactly one
process (`runner`)."""
