"""The agent's exceptions: one root, each fault carrying the exit status a supervisor sees.

TocsinError                    tocsin/common/errors.py: the root both programs share
└── AgentError                 exit 1: any fault of the agent
    ├── ConfigError            exit 78 (EX_CONFIG): a bad config file, value or rule
    │   └── RuleError          a rule that cannot be loaded or evaluated as written
    ├── StorageError           exit 74 (EX_IOERR): the state file or the spool cannot be written
    │   └── NewerState         exit 78: the state file is of a newer agent's format (a downgrade)
    ├── TransientError         exit 75 (EX_TEMPFAIL): a start-up fault that may clear on a retry
    │   └── AddressInUse       the /metrics port is held by another process
    └── PushError              a push to the receiver failed
        ├── PushRejected       the receiver refused the alerts (4xx): retrying cannot help
        └── PushUnavailable    5xx, timeout or refused connection: retry later
"""

from __future__ import annotations

from collections.abc import Mapping

from tocsin.common.errors import EX_CONFIG, EX_IOERR, EX_TEMPFAIL, TocsinError


class AgentError(TocsinError):
    """Root of every fault the agent reports; `exit_code` is what the process exits with."""

    exit_code = 1


class ConfigError(AgentError):
    """A config file, a value in it or a rule is wrong; the message names where and the fix."""

    exit_code = EX_CONFIG


class RuleError(ConfigError):
    """A rule cannot be loaded as written."""


class StorageError(AgentError):
    """The agent's own files (alert state, spool) cannot be read or written."""

    exit_code = EX_IOERR


class NewerState(StorageError):
    """The alert state file was written by a newer agent: reading it could lose alerts.

    Exit 78, as a config fault: restarting cannot help, a person must upgrade or move it aside.
    """

    exit_code = EX_CONFIG


class TransientError(AgentError):
    """A fault that may clear by itself (a port still held by the old process): systemd retries."""

    exit_code = EX_TEMPFAIL


class AddressInUse(TransientError):
    """The /metrics address is bound by another process, often one still stopping."""


class PushError(AgentError):
    """A push to the receiver failed; `reason` labels the failure in metrics."""

    reason = "error"


class PushRejected(PushError):
    """The receiver answered 4xx: retrying the same request cannot help.

    `detail` is the receiver's own reason; `rejected` maps the index of each alert a bridge
    named in its `rejected[]` answer to why (the other alerts of that batch were stored).
    """

    def __init__(
        self,
        message: str,
        status: int,
        detail: str = "",
        rejected: Mapping[int, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = f"http_{status}"
        self.detail = detail
        self.rejected: Mapping[int, str] = rejected or {}


class PushUnavailable(PushError):
    """The receiver cannot take the alerts now; `retry_after` is its requested wait, if any."""

    def __init__(self, message: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after
