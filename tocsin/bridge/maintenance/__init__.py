"""Maintenance windows: planned work that pages nobody, and what it held back.

Owns the window model (matchers, one-off and weekly windows), their storage and audit, the
alerts a window held back and their release when it ends. Imports the platform, policy, store,
timers and ingest layers; is imported by the API, CLI, web and server layers.
"""
