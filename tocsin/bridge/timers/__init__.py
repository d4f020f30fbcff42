"""Durable timers: rows with a due time (rows) and the scheduler that fires each exactly once."""
