"""node_exporter's host coverage: kernel counters, filesystem bytes and inodes, memory bytes,
NIC errors, a textfile directory, and collectors switched off by config, read from fake trees."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tests.agent.fake_psutil import Partition
from tests.peers import require_binary
from tocsin.agent.collectors.base import Reading
from tocsin.agent.collectors.filesystem import FilesystemCollector
from tocsin.agent.collectors.kernel import KernelCollector
from tocsin.agent.collectors.statfs import FsUsage, read_statvfs
from tocsin.agent.collectors.textfile import TextfileCollector
from tocsin.agent.config import load_config
from tocsin.agent.errors import ConfigError
from tocsin.agent.exposition import Exposition
from tocsin.agent.sample import Sample
from tocsin.agent.sampler import Sampler
from tocsin.agent.textformat import SampleCollector

TICKS = os.sysconf("SC_CLK_TCK")
PROC = {
    "stat": (
        f"cpu  {4 * TICKS} 0 {2 * TICKS} {10 * TICKS} 0 0 0 0 0 0\n"
        f"cpu0 {3 * TICKS} 0 {TICKS} {5 * TICKS} 0 0 0 0 0 0\n"
        f"cpu1 {TICKS} 0 {TICKS} {5 * TICKS} 0 0 0 0 0 0\n"
        "intr 12345 1 2 3\nctxt 987654\nbtime 1700000000\nprocesses 4321\n"
        "procs_running 2\nprocs_blocked 0\n"
    ),
    "meminfo": (
        "MemTotal:        1000 kB\nMemFree:          100 kB\nMemAvailable:     250 kB\n"
        "Buffers:           20 kB\nCached:           300 kB\n"
        "SwapTotal:        400 kB\nSwapFree:         300 kB\n"
    ),
    "uptime": "350.25 700.50\n",
    "vmstat": "nr_free_pages 1234\npgfault 99\noom_kill 3\n",
    "pressure/cpu": "some avg10=0.00 avg60=0.00 avg300=0.00 total=1500000\n",
    "pressure/io": (
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=2000000\n"
        "full avg10=0.00 avg60=0.00 avg300=0.00 total=500000\n"
    ),
    "pressure/memory": (
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
        "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
    ),
    "sys/net/netfilter/nf_conntrack_count": "900\n",
    "sys/net/netfilter/nf_conntrack_max": "1000\n",
    "sys/fs/file-nr": "2048\t0\t8192\n",
    "mdstat": (
        "Personalities : [raid1] [raid0]\n"
        "md1 : active raid1 sdb2[1](F) sda2[0]\n      1046528 blocks super 1.2 [2/1] [U_]\n\n"
        "md0 : active (auto-read-only) raid1 sdb1[1] sda1[0] sdc1[2](S)\n"
        "      1046528 blocks super 1.2 [2/2] [UU]\n      \n"
        "md2 : active raid0 sdd[1] sde[0]\n      2093056 blocks super 1.2 512k chunks\n\n"
        "unused devices: <none>\n"
    ),
    "diskstats": "   8       0 sda 10 0 80 5 20 0 160 9 0 30 14 0 0 0 0\n",
    "net/dev": (
        "Inter-|   Receive\n face |bytes\n  eth0: 1000 10 7 5 0 0 0 0 2000 20 3 1 0 0 0 0\n"
    ),
}


def tree(root: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(root)


def found(sample: Sample | Reading, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for s in (*sample.gauges, *sample.counters)
        if s.name == name
    }


def one(sample: Sample | Reading, name: str) -> float:
    (value,) = found(sample, name).values()
    return value


def test_kernel_counters_are_read_under_node_exporters_names(tmp_path: Path) -> None:
    reading = Reading()
    KernelCollector(tree(tmp_path, PROC)).collect(reading)
    assert one(reading, "tocsin_boot_time_seconds") == 1_700_000_000
    assert one(reading, "tocsin_uptime_seconds") == 350.25
    assert one(reading, "tocsin_context_switches_total") == 987654
    assert one(reading, "tocsin_forks_total") == 4321
    assert one(reading, "tocsin_vmstat_oom_kill") == 3
    assert one(reading, "tocsin_pressure_cpu_waiting_seconds_total") == 1.5
    assert one(reading, "tocsin_pressure_io_waiting_seconds_total") == 2.0
    assert one(reading, "tocsin_pressure_io_stalled_seconds_total") == 0.5
    assert one(reading, "tocsin_pressure_memory_stalled_seconds_total") == 0.0
    assert one(reading, "tocsin_nf_conntrack_entries") == 900
    assert one(reading, "tocsin_nf_conntrack_entries_limit") == 1000
    assert one(reading, "tocsin_nf_conntrack_used_ratio") == 0.9
    assert one(reading, "tocsin_filefd_allocated") == 2048
    assert one(reading, "tocsin_filefd_maximum") == 8192
    assert one(reading, "tocsin_filefd_used_ratio") == 0.25
    cores = found(reading, "tocsin_cpu_core_seconds_total")
    assert cores[(("cpu", "0"), ("mode", "user"))] == 3.0
    assert cores[(("cpu", "1"), ("mode", "idle"))] == 5.0
    assert len(cores) == 2 * 8
    assert reading.notes == [] and reading.failures == 0


def test_a_kernel_without_psi_or_conntrack_leaves_those_series_out(tmp_path: Path) -> None:
    files = {k: v for k, v in PROC.items() if not k.startswith(("pressure", "sys"))}
    reading = Reading()
    KernelCollector(tree(tmp_path, files)).collect(reading)
    names = {s.name for s in (*reading.gauges, *reading.counters)}
    assert not any("pressure" in name or "conntrack" in name for name in names)
    assert "tocsin_vmstat_oom_kill" in names and reading.failures == 0


def test_filesystem_bytes_inodes_and_read_only_flag(tmp_path: Path) -> None:
    usage = FsUsage(
        used=600, free=300, size=1000, free_all=400, files=100, files_free=5, readonly=True
    )
    collector = FilesystemCollector(
        lambda: [Partition("/dev/sda1", "/data", "ext4")], lambda mountpoint: usage
    )
    reading = Reading()
    collector.collect(reading, 0.0)
    collector.close()
    assert one(reading, "tocsin_filesystem_size_bytes") == 1000
    assert one(reading, "tocsin_filesystem_free_bytes") == 400
    assert one(reading, "tocsin_filesystem_avail_bytes") == 300
    assert one(reading, "tocsin_filesystem_files") == 100
    assert one(reading, "tocsin_filesystem_files_free") == 5
    assert one(reading, "tocsin_filesystem_files_used_ratio") == 0.95
    assert one(reading, "tocsin_filesystem_readonly") == 1.0
    assert one(reading, "tocsin_filesystem_used_ratio") == pytest.approx(600 / 900)


def test_statvfs_agrees_with_df_on_a_real_directory(tmp_path: Path) -> None:
    usage, stat = read_statvfs(str(tmp_path)), os.statvfs(tmp_path)
    assert usage.size == stat.f_blocks * stat.f_frsize
    assert usage.used + usage.free_all == usage.size  # free space moves on a shared disk
    assert 0 < usage.free <= usage.free_all
    assert usage.files == stat.f_files and usage.readonly is False


def test_memory_bytes_and_nic_errors_come_from_the_proc_tree(tmp_path: Path) -> None:
    sampler = Sampler(
        proc_root=tree(tmp_path, PROC), disk_partitions=lambda: [], getloadavg=lambda: (1, 1, 1)
    )
    sample = sampler.sample()
    sampler.close()
    assert one(sample, "tocsin_memory_total_bytes") == 1000 * 1024
    assert one(sample, "tocsin_memory_available_bytes") == 250 * 1024
    assert one(sample, "tocsin_memory_buffers_bytes") == 20 * 1024
    assert one(sample, "tocsin_swap_free_bytes") == 300 * 1024
    assert one(sample, "tocsin_network_receive_errs_total") == 7
    assert one(sample, "tocsin_network_receive_drop_total") == 5
    assert one(sample, "tocsin_network_transmit_errs_total") == 3
    assert one(sample, "tocsin_network_transmit_drop_total") == 1


GOOD_PROM = "# HELP site_backup_age_seconds Age.\n# TYPE site_backup_age_seconds gauge\n"
GOOD_PROM += 'site_backup_age_seconds{job_name="db"} 3600\n'
GOOD_PROM += "# TYPE site_runs counter\nsite_runs_total 7\n"


def test_textfile_publishes_good_files_and_counts_bad_ones(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "textfile"
    directory.mkdir()
    (directory / "backup.prom").write_text(GOOD_PROM)
    (directory / "broken.prom").write_text('half{a="1" 2\n')
    (directory / "stolen.prom").write_text("tocsin_load1 99\n")
    (directory / "notes.txt").write_text("not metrics\n")
    sampler = Sampler(
        proc_root=tree(tmp_path / "proc", PROC),
        disk_partitions=lambda: [],
        getloadavg=lambda: (1, 1, 1),
        textfile_directory=str(directory),
    )
    with caplog.at_level(logging.WARNING, logger="tocsin.agent.sampler"):
        sample = sampler.sample()
        sampler.sample()
    sampler.close()
    assert found(sample, "site_backup_age_seconds") == {(("job_name", "db"),): 3600}
    assert [s.value for s in sample.counters if s.name == "site_runs_total"] == [7]
    assert one(sample, "tocsin_textfile_scrape_error") == 2
    assert set(found(sample, "tocsin_textfile_mtime_seconds")) == {(("file", "backup.prom"),)}
    assert one(sample, "tocsin_load1") == 1
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 2  # once each, not again on the second pass
    assert any("broken.prom" in line for line in logged)
    assert any("stolen.prom" in line and "tocsin_" in line for line in logged)


def test_a_missing_textfile_directory_is_an_error_not_a_crash(tmp_path: Path) -> None:
    reading = Reading()
    TextfileCollector(str(tmp_path / "absent")).collect(reading)
    assert one(reading, "tocsin_textfile_scrape_error") == 1
    assert "cannot be listed" in reading.notes[0]


def test_config_switches_collectors_off_and_sets_the_textfile_directory(tmp_path: Path) -> None:
    path = tmp_path / "agent.yml"
    path.write_text("collectors:\n  kernel: false\n  cpu: true\ntextfile:\n  directory: prom\n")
    options = load_config(path).sampler.options()
    assert options == {"disabled": ("kernel",), "textfile_directory": str(tmp_path / "prom")}
    sampler = Sampler(
        proc_root=tree(tmp_path / "proc", PROC),
        disk_partitions=lambda: [],
        getloadavg=lambda: (1, 1, 1),
        **options,
    )
    sample = sampler.sample()
    sampler.close()
    ran = found(sample, "tocsin_agent_collector_success")
    assert (("collector", "kernel"),) not in ran and (("collector", "textfile"),) in ran
    assert not found(sample, "tocsin_boot_time_seconds")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("collectors:\n  cpus: false\n", "'collectors.cpus' is not a known key"),
        ("collectors:\n  cpu: 'no'\n", "'collectors.cpu' is 'no'; expected true or false"),
    ],
)
def test_a_bad_collector_switch_names_file_line_and_key(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "agent.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"{path}:2: {problem}"):
        load_config(path)


def test_every_new_series_passes_promtool_check_metrics(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    directory = tmp_path / "textfile"
    directory.mkdir()
    (directory / "backup.prom").write_text(GOOD_PROM)
    registry = CollectorRegistry()
    collector = SampleCollector()
    registry.register(collector)
    sampler = Sampler(
        proc_root=tree(tmp_path / "proc", PROC),
        disk_partitions=lambda: [Partition("/dev/sda1", str(tmp_path), "ext4")],
        getloadavg=lambda: (1, 1, 1),
        textfile_directory=str(directory),
        systemd_units=lambda timeout: ["nginx.service"],
    )
    sampler.sample()
    # systemctl is asked off the cycle: its answer shows in a later pass.
    deadline = time.monotonic() + 10
    sample = sampler.sample()
    while not found(sample, "tocsin_systemd_units_failed") and time.monotonic() < deadline:
        time.sleep(0.01)
        sample = sampler.sample()
    collector.update(sample)
    sampler.close()
    exposition = Exposition(registry)
    exposition.refresh()
    body = exposition.body(gzipped=False)
    for name in (
        b"tocsin_filesystem_files_free",
        b"tocsin_pressure_io_stalled_seconds_total",
        b"tocsin_cpu_core_seconds_total",
        b"tocsin_network_receive_errs_total",
        b"site_runs_total",
        b'tocsin_md_disks{device="md1",state="failed"} 1.0',
        b'tocsin_md_disks_missing{device="md1"} 1.0',
        b"tocsin_filefd_used_ratio 0.25",
        b'tocsin_systemd_unit_failed{name="nginx.service"} 1.0',
        b"tocsin_systemd_units_failed 1.0",
    ):
        assert name in body
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=30, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout + checked.stderr == b""
