"""The platform under every part: configuration, the clock, metrics, secrets bootstrap, YAML and durations."""
