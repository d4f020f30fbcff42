"""Incidents: the pure state machine, the operations on stored incidents, and their JSON.

Owns the lifecycle, the event log and its hooks, follow-ups and the incidents' JSON. May import
timers (clock arithmetic, follow-up timers), paging, kb, store, policy and platform.
"""
