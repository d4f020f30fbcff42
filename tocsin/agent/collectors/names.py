"""The collectors' names, which a config switches them by, kept free of the collectors' imports."""

from __future__ import annotations

# In the order the sampler runs them; systemd runs only where systemd is the init system, and
# textfile only when a directory is configured.
COLLECTORS = (
    "cpu", "memory", "load", "disk", "network", "filesystem", "timex", "kernel", "mdadm", "systemd",
    "textfile",
)  # fmt: skip
