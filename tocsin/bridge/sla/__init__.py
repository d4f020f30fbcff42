"""SLA engine: the hook that keeps clocks in the store and the timers that warn, breach and escalate.

Owns the SLA hook, the timer handlers, manual escalation, the first step and SLA metrics; the
clock arithmetic itself is in timers. May import incidents, timers, paging and everything below.
"""
