"""Clocks and timers: business-time and SLA clock arithmetic, durable timer rows, the scheduler.

Owns calendar (business hours; wallclock: its rule at DST edges; calendar_days: a year's days
off and make-up days), clocks (SLA clock maths), rows (timers with a due time) and scheduler
(fires each timer exactly once, across replicas). May import store, policy and platform.
"""
