"""Paging: what a page says, the channels that carry it, the outbox that makes it durable."""
