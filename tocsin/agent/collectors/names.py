"""The collectors' names, which a config switches them by, kept free of the collectors' imports."""

from __future__ import annotations

# In the order the sampler runs them; textfile runs only when a directory is configured.
COLLECTORS = (
    "cpu", "memory", "load", "disk", "network", "filesystem", "timex", "kernel", "textfile",
)  # fmt: skip
