"""The shipped unit files pass systemd's own checks: verify clean, exposure 2.0 or less."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.peers import require_binary

SYSTEMD_DIR = Path(__file__).resolve().parent.parent / "systemd"
UNITS = ["tocsin-agent.service", "tocsin-bridge.service"]
# Every shipped unit, the daemons and the agent's shutdown notice, is verified and sandboxed.
ALL_UNITS = [*UNITS, "tocsin-agent-shutdown.service"]
MAX_EXPOSURE = 2.0
SYSTEM_UNIT_DIR = Path("/usr/lib/systemd/system")


def directives(unit: str) -> dict[str, list[str]]:
    """Map each `Key` of a unit file to its values in order (keys may repeat)."""
    found: dict[str, list[str]] = {}
    for line in (SYSTEMD_DIR / unit).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        found.setdefault(key.strip(), []).append(value.strip())
    return found


def install_into_root(unit: str, root: Path) -> None:
    """Lay out a filesystem root holding the unit, the programs it runs and systemd's targets."""
    shutil.copytree(SYSTEM_UNIT_DIR, root / "usr/lib/systemd/system", symlinks=True)
    unit_dir = root / "etc/systemd/system"
    unit_dir.mkdir(parents=True)
    shutil.copy(SYSTEMD_DIR / unit, unit_dir / unit)
    found = directives(unit)
    for key in ("ExecStart", "ExecStartPre", "ExecReload", "ExecStop"):
        for command in found.get(key, []):
            program = Path(command.split()[0].lstrip("-@+!:"))
            fake = root / program.relative_to("/")
            fake.parent.mkdir(parents=True, exist_ok=True)
            fake.write_text("#!/bin/sh\n")
            fake.chmod(0o755)


@pytest.mark.parametrize("unit", ALL_UNITS)
def test_unit_verifies_without_any_warning(unit: str, tmp_path: Path) -> None:
    analyze = require_binary("systemd-analyze")
    if not SYSTEM_UNIT_DIR.is_dir():
        pytest.skip("systemd's unit directory is absent")
    install_into_root(unit, tmp_path)
    result = subprocess.run(
        [analyze, "verify", "--man=no", "--generators=no", f"--root={tmp_path}", unit],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr + result.stdout) == (0, "")


@pytest.mark.parametrize("unit", ALL_UNITS)
def test_unit_exposure_is_at_most_two(unit: str) -> None:
    analyze = require_binary("systemd-analyze")
    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(SYSTEMD_DIR / unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match is not None, result.stdout + result.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE


@pytest.mark.parametrize("unit", UNITS)
def test_unit_is_notify_with_a_watchdog(unit: str) -> None:
    found = directives(unit)
    assert found["Type"] == ["notify"]
    assert found["WatchdogSec"] and found["WatchdogSec"][0] not in {"0", "infinity"}


@pytest.mark.parametrize(
    ("unit", "state", "config"),
    [
        ("tocsin-agent.service", "tocsin-agent", "/etc/tocsin/agent.yml"),
        ("tocsin-bridge.service", "tocsin-bridge", "/etc/tocsin/bridge.yml"),
    ],
)
def test_unit_keeps_state_and_config_where_systemd_manages_them(
    unit: str, state: str, config: str
) -> None:
    found = directives(unit)
    assert found["StateDirectory"] == [state]
    assert found["ConfigurationDirectory"] == ["tocsin"]
    assert found["ExecStart"][0].endswith(f"--config {config}")


@pytest.mark.parametrize("unit", UNITS)
def test_unit_does_not_restart_on_a_configuration_fault(unit: str) -> None:
    assert directives(unit)["RestartPreventExitStatus"] == ["78"]


def test_agent_unit_restarts_on_a_transient_fault() -> None:
    found = directives("tocsin-agent.service")
    # A port still held exits 75 (EX_TEMPFAIL): on-failure restarts it, 78 alone is final.
    assert found["Restart"] == ["on-failure"]
    assert "75" not in " ".join(found["RestartPreventExitStatus"]).split()


def test_agent_unit_lets_the_read_only_adjtimex_through() -> None:
    found = directives("tocsin-agent.service")
    # ProtectClock= filters adjtimex even with modes 0, which tocsin_timex_* needs.
    assert "ProtectClock" not in found
    assert found["SystemCallFilter"][-1] == "adjtimex"
    assert found["CapabilityBoundingSet"] == [""]


def test_agent_sandbox_leaves_every_mount_and_the_disk_counters_visible() -> None:
    found = directives("tocsin-agent.service")
    # Hidden or replaced paths would make statvfs() report another filesystem's usage.
    assert found.get("ProtectHome", ["no"]) in (["no"], ["read-only"])
    for hiding in ("InaccessiblePaths", "TemporaryFileSystem", "RootDirectory", "RootImage"):
        assert hiding not in found
    # ProcSubset=pid would hide /proc/diskstats, /proc/stat, /proc/meminfo and /proc/net/dev.
    assert found.get("ProcSubset", ["all"]) == ["all"]
    assert found["ProtectSystem"] == ["strict"]


def test_sysusers_file_creates_the_account_the_units_run_as(tmp_path: Path) -> None:
    sysusers = require_binary("systemd-sysusers")
    (tmp_path / "etc").mkdir()
    result = subprocess.run(
        [sysusers, f"--root={tmp_path}", "--dry-run", str(SYSTEMD_DIR / "tocsin.sysusers")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Creating user 'tocsin'" in result.stdout + result.stderr
    assert {directives(unit)["User"][0] for unit in UNITS} == {"tocsin"}
