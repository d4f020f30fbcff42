"""Incidents: the pure state machine, the operations on stored incidents, and their JSON."""
