"""The spool: ordered, bounded, surviving restarts and crashes mid-write."""

from __future__ import annotations

from pathlib import Path

import pytest

from tocsin.agent.errors import StorageError
from tocsin.agent.spool import Spool


def drain(spool: Spool) -> list[bytes]:
    out = []
    while (head := spool.peek()) is not None:
        out.append(head[1])
        spool.remove(head[0])
    return out


def test_entries_come_out_in_the_order_they_went_in(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1024)
    for payload in (b"a", b"b", b"c"):
        spool.append(payload)
    assert drain(spool) == [b"a", b"b", b"c"]
    assert spool.depth == 0


def test_entries_survive_a_restart_in_order(tmp_path: Path) -> None:
    first = Spool(tmp_path, 1024)
    first.append(b"a")
    first.append(b"b")
    second = Spool(tmp_path, 1024)
    second.append(b"c")
    assert drain(second) == [b"a", b"b", b"c"]


def test_oldest_entries_are_dropped_and_counted_past_max_bytes(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 100)
    for index in range(5):
        spool.append(b"x" * 30 + bytes([48 + index]))
    assert spool.size_bytes <= 100
    assert spool.dropped_total == 5 - spool.depth
    assert drain(spool)[-1].endswith(b"4")


def test_a_half_written_temporary_file_is_discarded_at_start(tmp_path: Path) -> None:
    Spool(tmp_path, 1024).append(b"whole")
    (tmp_path / ".00000000000000000002.entry.tmp").write_bytes(b"tocsin-spool/1 9")
    spool = Spool(tmp_path, 1024)
    assert drain(spool) == [b"whole"]
    assert not list(tmp_path.glob("*.tmp"))


def test_a_damaged_entry_is_dropped_counted_and_skipped(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1024)
    spool.append(b"first")
    spool.append(b"second")
    damaged = sorted(tmp_path.glob("*.entry"))[0]
    damaged.write_bytes(damaged.read_bytes()[:-2])
    spool = Spool(tmp_path, 1024)
    assert drain(spool) == [b"second"]
    assert spool.dropped_total == 1


def test_an_unwritable_directory_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StorageError, match="cannot open the spool"):
        Spool(blocker / "spool", 1024)
