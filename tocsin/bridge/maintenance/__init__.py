"""Maintenance windows: planned work that pages nobody, and what it held back.

Owns the window model (matchers, one-off and weekly windows), their storage and audit, the
alerts a window held back and their release when it ends. May import ingest, incidents, timers,
policy, store and platform; install.py builds its parts for the runtime, and api, web, server and
cli build on it.
"""
