"""Log lines journald files under their real priority: `<N>` prefixes when stderr is the journal.

systemd connects a service's stderr to journald and names that stream in JOURNAL_STREAM
(device:inode). journald reads a leading `<N>` on each line as its syslog priority, so a
WARNING shows as priority 4 in `journalctl -p warning` instead of everything as 6 (info).
Elsewhere (a terminal, a file) lines keep each program's plain format and carry no prefix;
journald stamps its own time, so journal lines leave the time out.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TextIO

SYSLOG_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}
JOURNAL_FORMAT = "%(levelname)s %(name)s: %(message)s"


def priority(levelno: int) -> int:
    """Return the syslog priority of a logging level (levels between two round down)."""
    for level, value in sorted(SYSLOG_PRIORITY.items(), reverse=True):
        if levelno >= level:
            return value
    return 7


class JournalFormatter(logging.Formatter):
    """Prefix every line of a record, tracebacks included, with its syslog priority."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def on_journal(env: Mapping[str, str], stream: TextIO) -> bool:
    """Return whether stream is the journal stream systemd gave this process."""
    device, _, inode = env.get("JOURNAL_STREAM", "").partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return False
    return (status.st_dev, status.st_ino) == (int(device), int(inode))


def configure_logging(level: str, stream: TextIO, env: Mapping[str, str], plain: str) -> None:
    """Send the root logger's records to stream: as journald wants them, or in the plain format."""
    handler = logging.StreamHandler(stream)
    if on_journal(env, stream):
        handler.setFormatter(JournalFormatter(JOURNAL_FORMAT))
    else:
        handler.setFormatter(logging.Formatter(plain))
    logging.basicConfig(level=level.upper(), handlers=[handler])
