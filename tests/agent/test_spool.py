"""The spool: ordered, bounded by what matters, collapsing finished alerts, keeping evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.agent.fakes import FakeClock
from tocsin.agent.entries import QUARANTINE_KEEP
from tocsin.agent.errors import StorageError
from tocsin.agent.push import WireAlert
from tocsin.agent.spool import Spool

T0 = 1_700_000_000.0


def alert(name: str, severity: str = "warning", ends_at: float | None = None) -> WireAlert:
    return WireAlert((("alertname", name), ("severity", severity)), (), T0, ends_at)


def drain(spool: Spool, limit: int = 1000) -> list[WireAlert]:
    taken = spool.take(limit)
    spool.settle(key for key, _ in taken)
    return [item for _, item in taken]


def names(alerts: list[WireAlert]) -> list[str]:
    return [dict(a.labels)["alertname"] + ("/resolved" if a.ends_at else "") for a in alerts]


def test_transitions_come_out_in_the_order_they_went_in(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    for name in ("a", "b", "c"):
        spool.append([alert(name)])
    assert names(drain(spool)) == ["a", "b", "c"]
    assert (spool.depth, spool.size_bytes) == (0, 0)


def test_take_returns_at_most_the_limit_and_keeps_the_rest(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    spool.append([alert(name) for name in "abcde"])
    assert names(drain(spool, 2)) == ["a", "b"]
    assert names(drain(spool, 2)) == ["c", "d"]
    assert spool.pending_alerts() == 1


def test_transitions_survive_a_restart_in_order(tmp_path: Path) -> None:
    first = Spool(tmp_path, 1 << 20)
    first.append([alert("a")])
    first.append([alert("b")])
    second = Spool(tmp_path, 1 << 20)
    second.append([alert("c")])
    assert names(drain(second)) == ["a", "b", "c"]


def test_a_full_spool_keeps_the_critical_batch_and_drops_the_oldest_warnings(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path, 4000)
    spool.append([alert("Disk", "critical")])
    for index in range(40):
        spool.append([alert(f"Cpu{index}")])
    kept = names(drain(spool))
    assert kept[0] == "Disk"
    assert kept[-1] == "Cpu39"
    assert spool.dropped["full"] == 41 - len(kept)
    assert spool.alerts_dropped["full"] == 41 - len(kept)


def test_a_critical_alert_goes_only_when_nothing_else_is_left(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 400)
    for index in range(6):
        spool.append([alert(f"Disk{index}", "critical")])
    kept = names(drain(spool))
    assert kept[-1] == "Disk5"
    assert kept == [f"Disk{index}" for index in range(6 - len(kept), 6)]


def test_criticals_of_a_mixed_batch_are_kept_apart(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    spool.append([alert("Cpu"), alert("Disk", "critical")])
    assert sorted(path.name.split(".", 1)[1] for path in tmp_path.glob("*.entry")) == [
        "critical.entry",
        "entry",
    ]


def test_a_resolution_settles_its_waiting_firing_transition(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    spool.append([alert("a")])
    spool.append([alert("b")])
    spool.append([alert("a", ends_at=T0 + 60)])
    assert spool.collapsed_total == 1
    assert spool.depth == 2  # the entry that held only a's firing is gone
    sent = drain(spool)
    assert names(sent) == ["b", "a/resolved"]
    assert (sent[1].starts_at, sent[1].ends_at) == (T0, T0 + 60)


def test_the_collapse_holds_across_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    spool.append([alert("a"), alert("b")])
    spool.append([alert("a", ends_at=T0 + 60)])
    restarted = Spool(tmp_path, 1 << 20)
    assert names(drain(restarted)) == ["b", "a/resolved"]


def test_a_new_episode_is_not_settled_by_the_old_ones_resolution(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    spool.append([alert("a", ends_at=T0 + 60)])
    spool.append([WireAlert(alert("a").labels, (), T0 + 120)])
    assert names(drain(spool)) == ["a/resolved", "a"]


def test_a_damaged_entry_is_quarantined_counted_and_skipped(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    spool.append([alert("first")])
    spool.append([alert("second")])
    damaged = sorted(tmp_path.glob("*.entry"))[0]
    damaged.write_bytes(damaged.read_bytes()[:-2])
    spool = Spool(tmp_path, 1 << 20)
    assert names(drain(spool)) == ["second"]
    assert spool.dropped["damaged"] == 1
    assert [path.name for path in spool.quarantined()] == [damaged.name]


def test_an_entry_damaged_while_waiting_is_quarantined_when_read(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    spool.append([alert("first"), alert("also")])
    spool.append([alert("second")])
    sorted(tmp_path.glob("*.entry"))[0].write_bytes(b"tocsin-spool/1 2 00000000\n{}")
    assert names(drain(spool)) == ["second"]
    assert (spool.dropped["damaged"], spool.alerts_dropped["damaged"]) == (1, 2)
    assert len(spool.quarantined()) == 1


def test_the_quarantine_keeps_only_the_newest_damaged_entries(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    for index in range(QUARANTINE_KEEP + 3):
        spool.append([alert(f"a{index}")])
    for path in tmp_path.glob("*.entry"):
        path.write_bytes(b"garbage")
    spool = Spool(tmp_path, 1 << 20)
    assert spool.dropped["damaged"] == QUARANTINE_KEEP + 3
    kept = spool.quarantined()
    assert len(kept) == QUARANTINE_KEEP
    assert kept[-1].name.startswith(f"{QUARANTINE_KEEP + 3:020d}")


def test_a_half_written_temporary_file_is_discarded_at_start(tmp_path: Path) -> None:
    Spool(tmp_path, 1 << 20).append([alert("whole")])
    (tmp_path / ".00000000000000000002.entry.tmp").write_bytes(b"tocsin-spool/1 9")
    spool = Spool(tmp_path, 1 << 20)
    assert names(drain(spool)) == ["whole"]
    assert not list(tmp_path.glob("*.tmp"))


def test_the_oldest_entry_reports_when_it_was_written(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    spool = Spool(tmp_path, 1 << 20, clock=clock)
    assert spool.oldest_written_at() is None
    spool.append([alert("a")])
    clock.advance(30)
    spool.append([alert("b")])
    assert spool.oldest_written_at() == T0
    drain(spool, 1)
    assert spool.oldest_written_at() == T0 + 30


def test_an_unwritable_directory_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StorageError, match="cannot open the spool"):
        Spool(blocker / "spool", 1024)
