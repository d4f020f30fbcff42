"""Log records reach journald with their syslog priority, and stay plain elsewhere."""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import pytest

from tocsin.common.journal import JournalFormatter, on_journal, priority


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (logging.CRITICAL, 2),
        (logging.ERROR, 3),
        (logging.WARNING, 4),
        (logging.INFO, 6),
        (logging.DEBUG, 7),
        (logging.WARNING + 5, 4),
        (1, 7),
    ],
)
def test_levels_map_to_syslog_priorities(level: int, expected: int) -> None:
    assert priority(level) == expected


def test_every_line_of_a_record_carries_its_priority() -> None:
    record = logging.LogRecord("tocsin.x", logging.ERROR, __file__, 1, "first\nsecond", None, None)
    text = JournalFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert text.splitlines() == ["<3>ERROR tocsin.x: first", "<3>second"]


def test_the_journal_is_recognised_by_its_device_and_inode(tmp_path: Path) -> None:
    with (tmp_path / "stream").open("w") as stream:
        status = os.fstat(stream.fileno())
        assert on_journal({"JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}"}, stream)
        assert not on_journal({"JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino + 1}"}, stream)
        assert not on_journal({"JOURNAL_STREAM": "garbage"}, stream)
        assert not on_journal({}, stream)


def test_a_stream_without_a_file_is_not_the_journal() -> None:
    assert not on_journal({"JOURNAL_STREAM": "1:2"}, io.StringIO())
