"""The root of every exception either program raises on purpose.

TocsinError                the common root; `exit_code` is what the process exits with
├── AgentError             tocsin/agent/errors.py: the agent's faults and their exit codes
└── BridgeError            tocsin/bridge/errors.py: the bridge's, with exit codes and HTTP statuses
"""

from __future__ import annotations


class TocsinError(Exception):
    """Root of every fault either program reports; `exit_code` is the process's exit status."""

    exit_code: int = 1


# sysexits.h codes that both programs exit with.
EX_CONFIG = 78
EX_UNAVAILABLE = 69
EX_IOERR = 74
EX_TEMPFAIL = 75
