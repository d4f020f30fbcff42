"""Paging: what a page says, the channels that carry it, the outbox that makes it durable.

Owns messages, channels, the outbox, the delivery worker and ack links. May import incidents, sla,
timers, paging, kb and everything below; install.py builds its parts for the runtime.
"""
