"""The platform under every part: configuration, the clock, metrics and secrets bootstrap.

Owns the bridge config (config, notify_settings, where) and the process's clock and metrics.
May import tocsin.common and tocsin.bridge.errors only: every other package builds on it.
"""
