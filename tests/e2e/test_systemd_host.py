"""Both units under real systemd, installed from the Debian packages, on a throwaway host.

systemd runs as PID 1 of private namespaces over an overlay of this machine's root (see
systemd_host.py), so the packages, users and services live only in a tmpfs that dies with it.
The tests run in file order on one host: install, run, reload, watchdog, stop, then upgrade,
remove and purge.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.systemd_host import SystemdHost
from tests.peers import missing_peer, require_binary

ROOT = Path(__file__).resolve().parents[2]
UNIT_DIR = ROOT / "systemd"
AGENT, BRIDGE = "tocsin-agent.service", "tocsin-bridge.service"
NEXT_VERSION = "0.1.0+next"
READY_WITHIN = 30.0
# Watchdog timing for the restart test only, in a drop-in; the shipped units stay as they are.
WATCHDOG_SEC, RESTART_SEC = 3, 1
# Hardening directives whose value `systemctl show` reports in the unit file's own words.
HARDENING = (
    "ProtectSystem ProtectHome PrivateTmp PrivateDevices PrivateUsers PrivateIPC "
    "ProtectHostname ProtectClock ProtectKernelTunables ProtectKernelModules ProtectKernelLogs "
    "ProtectControlGroups ProtectProc NoNewPrivileges RestrictRealtime RestrictSUIDSGID "
    "LockPersonality MemoryDenyWriteExecute RemoveIPC KeyringMode UMask"
).split()

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _require_host_tools() -> None:
    if os.geteuid() != 0:
        missing_peer("systemd in a namespace needs root (unshare, mount, pivot_root)")
    for tool in ("unshare", "nsenter", "dpkg-deb", "strip"):
        require_binary(tool)
    if not Path("/lib/systemd/systemd").exists():
        missing_peer("systemd is not installed")


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Build both packages (or take those `make deb` left in $TOCSIN_DEB_DIR), and a newer agent."""
    _require_host_tools()
    out = tmp_path_factory.mktemp("debs")
    if os.environ.get("TOCSIN_DEB_DIR"):
        for built in Path(os.environ["TOCSIN_DEB_DIR"]).glob("tocsin-*.deb"):
            shutil.copy(built, out)
    else:
        command = [sys.executable, str(ROOT / "packaging/deb/build.py"), "--out", str(out)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        assert result.returncode == 0, result.stderr
    agent = next(out.glob("tocsin-agent_*.deb"))
    return {
        "agent": agent,
        "bridge": next(out.glob("tocsin-bridge_*.deb")),
        "agent-next": rebuilt_as(agent, NEXT_VERSION, out / "next"),
    }


def rebuilt_as(deb: Path, version: str, out: Path) -> Path:
    """Return the same package rebuilt with a newer version, as the next release would be."""
    tree = out / "tree"
    out.mkdir(parents=True)
    subprocess.run(["dpkg-deb", "-R", str(deb), str(tree)], check=True)
    control = tree / "DEBIAN/control"
    control.write_text(
        "".join(
            f"Version: {version}\n" if line.startswith("Version:") else line
            for line in control.read_text().splitlines(keepends=True)
        )
    )
    target = out / deb.name.replace("_0.1.0_", f"_{version}_")
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(tree), str(target)],
        check=True,
        capture_output=True,
    )
    return target


@pytest.fixture(scope="module")
def host(
    packages: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SystemdHost]:
    """Boot the host and install both packages with dpkg, as a sysadmin would."""
    with SystemdHost(tmp_path_factory.mktemp("host")) as booted:
        # This machine's image forbids service starts from maintainer scripts (a Docker-style
        # policy-rc.d); a real host has none. Removed in the overlay only.
        booted.run("rm", "-f", "/usr/sbin/policy-rc.d")
        # Start from a host that never had Tocsin, whatever this machine holds.
        booted.run("sh", "-c", "rm -rf /etc/tocsin /opt/tocsin* /var/lib/tocsin-*")
        for deb in packages.values():
            shutil.copy(deb, booted.share)
        for name in ("agent", "bridge"):
            booted.run("dpkg", "-i", f"/share/{packages[name].name}", timeout=180)
        yield booted


def show(host: SystemdHost, unit: str, *properties: str) -> dict[str, str]:
    """Return systemctl show's values of a unit's properties."""
    args = [f"--property={name}" for name in properties]
    lines = host.run("systemctl", "show", unit, *args).stdout.splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def main_pid(host: SystemdHost, unit: str) -> int:
    return int(show(host, unit, "MainPID")["MainPID"])


def http(
    host: SystemdHost, method: str, url: str, token: str = "", body: object = None
) -> tuple[int, str]:
    """Make one HTTP request from inside the host's network namespace."""
    code = (
        "import json, sys, urllib.request, urllib.error\n"
        "method, url, token, body = sys.argv[1:5]\n"
        "request = urllib.request.Request(url, method=method, data=body.encode() or None)\n"
        "request.add_header('Content-Type', 'application/json')\n"
        "if token: request.add_header('Authorization', 'Bearer ' + token)\n"
        "try:\n"
        "    with urllib.request.urlopen(request, timeout=10) as answer: print(answer.status); print(answer.read().decode())\n"
        "except urllib.error.HTTPError as error: print(error.code); print(error.read().decode())\n"
    )
    payload = "" if body is None else json.dumps(body)
    status, _, text = host.python(code, method, url, token, payload).partition("\n")
    return int(status), text


def tokens(host: SystemdHost) -> dict[str, str]:
    """Read the tokens the bridge generated on its first start."""
    import yaml

    entries = yaml.safe_load(host.run("cat", "/var/lib/tocsin-bridge/tokens.yml").stdout)
    return {entry["role"]: entry["value"] for entry in entries}


def journal(host: SystemdHost, unit: str) -> list[dict[str, str]]:
    """Return the unit's journal entries as journald stored them."""
    text = host.run("journalctl", "-u", unit, "-o", "json", "--no-pager").stdout
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def alert(name: str) -> list[dict[str, object]]:
    return [
        {
            "labels": {"alertname": name, "instance": "db1", "severity": "critical"},
            "annotations": {"summary": f"{name} on db1"},
        }
    ]


def incident_titles(host: SystemdHost) -> list[str]:
    status, text = http(
        host, "GET", "http://127.0.0.1:8080/api/v1/incidents", tokens(host)["operator"]
    )
    assert status == 200, text
    return [incident["title"] for incident in json.loads(text)["incidents"]]


def test_both_units_become_active_through_their_ready_notification(host: SystemdHost) -> None:
    for unit in (AGENT, BRIDGE):
        host.wait_until(f"systemctl is-active {unit}", "active", timeout=READY_WITHIN)
        state = show(
            host,
            unit,
            "Type",
            "NRestarts",
            "ExecMainStartTimestampMonotonic",
            "ActiveEnterTimestampMonotonic",
        )
        assert (state["Type"], state["NRestarts"]) == ("notify", "0"), unit
        ready_after = int(state["ActiveEnterTimestampMonotonic"]) - int(
            state["ExecMainStartTimestampMonotonic"]
        )
        assert 0 < ready_after < READY_WITHIN * 1e6, f"{unit} READY after {ready_after} µs"
    exposition = http(host, "GET", "http://127.0.0.1:10042/metrics")[1]
    assert "tocsin_memory_used_ratio" in [line.split(" ")[0] for line in exposition.splitlines()]
    assert http(host, "GET", "http://127.0.0.1:8080/healthz")[0] == 200


@pytest.mark.parametrize(
    ("unit", "state_dir"), [(AGENT, "/var/lib/tocsin-agent"), (BRIDGE, "/var/lib/tocsin-bridge")]
)
def test_each_service_runs_as_its_user_inside_its_sandbox(
    host: SystemdHost, unit: str, state_dir: str
) -> None:
    pid = main_pid(host, unit)
    status = dict(
        line.split(":", 1) for line in host.run("cat", f"/proc/{pid}/status").stdout.splitlines()
    )
    uid = host.run("id", "-u", "tocsin").stdout.strip()
    assert status["Uid"].split()[0] == uid
    assert status["NoNewPrivs"].strip() == "1"
    assert status["Seccomp"].strip() == "2"
    assert int(status["CapEff"].strip(), 16) == 0
    probe = "touch {0}/sandbox-probe && rm {0}/sandbox-probe"
    inside = ["nsenter", "-t", str(pid), "-m", "--", "sh", "-c"]
    assert host.run(*inside, probe.format(state_dir)).returncode == 0
    for outside in ("/etc", "/usr", "/opt", "/var/lib", "/root"):
        refused = host.run(*inside, probe.format(outside), check=False)
        assert refused.returncode != 0, f"{unit} could write {outside}"
    written = directives(unit)
    in_force = show(host, unit, *HARDENING)
    for key in HARDENING:
        if key in written:
            assert in_force[key] == normalised(key, written[key]), f"{unit}: {key}"


def directives(unit: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in (UNIT_DIR / unit).read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not line.lstrip().startswith("#"):
            found[key.strip()] = value.strip()
    return found


def normalised(key: str, value: str) -> str:
    """Return a directive's value the way `systemctl show` prints it."""
    return value.zfill(4) if key == "UMask" else value


def test_the_agent_reloads_a_good_config_and_keeps_running_on_a_bad_one(host: SystemdHost) -> None:
    pid = main_pid(host, AGENT)
    config = host.run("cat", "/etc/tocsin/agent.yml").stdout
    try:
        host.run("sh", "-c", "printf 'labels: {site: lab}\\n' >> /etc/tocsin/agent.yml")
        host.run("systemctl", "reload", AGENT)
        host.wait_until(
            f"journalctl -u {AGENT} -o cat | grep -c 'reloaded /etc/tocsin/agent.yml'", "1"
        )
        host.run("sh", "-c", "printf 'interval: soon\\n' > /etc/tocsin/agent.yml")
        host.run("systemctl", "reload", AGENT)
        host.wait_until(f"journalctl -u {AGENT} -o cat | grep -c 'reload refused'", "1")
        assert main_pid(host, AGENT) == pid
        assert show(host, AGENT, "ActiveState")["ActiveState"] == "active"
        assert http(host, "GET", "http://127.0.0.1:10042/metrics")[0] == 200
    finally:
        host.run("sh", "-c", f"cat > /etc/tocsin/agent.yml <<'EOF'\n{config}EOF")
        host.run("systemctl", "reload", AGENT)


def test_journald_files_log_lines_under_their_syslog_priority(host: SystemdHost) -> None:
    agent_lines = {entry["MESSAGE"]: entry["PRIORITY"] for entry in journal(host, AGENT)}
    refused = [priority for text, priority in agent_lines.items() if "reload refused" in text]
    reloaded = [
        priority for text, priority in agent_lines.items() if "reloaded /etc/tocsin" in text
    ]
    assert refused and set(refused) == {"3"}
    assert reloaded and set(reloaded) == {"6"}
    warnings = [e["PRIORITY"] for e in journal(host, BRIDGE) if "generated" in e["MESSAGE"]]
    assert warnings and set(warnings) == {"4"}
    assert all(not e["MESSAGE"].startswith("<") for e in journal(host, BRIDGE))


def test_the_watchdog_restarts_a_stopped_bridge_and_a_retried_alert_is_answered(
    host: SystemdHost,
) -> None:
    dropin = f"/run/systemd/system/{BRIDGE}.d"
    host.run("mkdir", "-p", dropin)
    host.run(
        "sh",
        "-c",
        f"printf '[Service]\\nWatchdogSec={WATCHDOG_SEC}s\\nRestartSec={RESTART_SEC}s\\n' > {dropin}/timing.conf",
    )
    host.run("systemctl", "daemon-reload")
    host.run("systemctl", "restart", BRIDGE)
    host.wait_until(f"systemctl is-active {BRIDGE}", "active", timeout=READY_WITHIN)
    token = tokens(host)["ingest"]
    try:
        frozen = main_pid(host, BRIDGE)
        host.run("kill", "-STOP", str(frozen))
        stopped_at = time.monotonic()
        with subprocess.Popen(
            [
                *host.enter(),
                "/usr/bin/python3",
                "-c",
                RETRYING_SENDER,
                token,
                json.dumps(alert("SentDuringWatchdog")),
            ],
            stdout=subprocess.PIPE,
            text=True,
        ) as sender:
            host.wait_until(
                f"systemctl show {BRIDGE} -p MainPID --value | grep -vx '{frozen}' | grep -vx 0 | wc -l",
                "1",
                timeout=WATCHDOG_SEC + RESTART_SEC + 20,
            )
            restarted_after = time.monotonic() - stopped_at
            host.wait_until(f"systemctl is-active {BRIDGE}", "active", timeout=READY_WITHIN)
            answer, _ = sender.communicate(timeout=60)
        assert answer.split()[0] == "200", answer
        # The new process exists once the watchdog fired and the restart delay passed; polling
        # through nsenter adds well under a second.
        assert WATCHDOG_SEC <= restarted_after < WATCHDOG_SEC + RESTART_SEC + 3
        assert show(host, BRIDGE, "NRestarts")["NRestarts"] == "1"
        assert "SentDuringWatchdog on db1" in " ".join(incident_titles(host))
    finally:
        host.run("rm", "-rf", dropin)
        host.run("systemctl", "daemon-reload")


RETRYING_SENDER = """
import sys, time, urllib.request, urllib.error
token, body = sys.argv[1], sys.argv[2].encode()
deadline = time.monotonic() + 50
while True:
    request = urllib.request.Request("http://127.0.0.1:8080/api/v2/alerts", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=3) as answer:
            print(answer.status)
            break
    except (urllib.error.URLError, OSError) as error:
        if time.monotonic() > deadline:
            print("gave up", error)
            break
        time.sleep(0.5)
"""

HALF_SENDER = """
import socket, sys
token, body = sys.argv[1], sys.argv[2].encode()
connection = socket.create_connection(("127.0.0.1", 8080), timeout=20)
head = (
    "POST /api/v2/alerts HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nContent-Type: application/json\\r\\n"
    f"Authorization: Bearer {token}\\r\\nContent-Length: {len(body)}\\r\\nConnection: close\\r\\n\\r\\n"
)
connection.sendall(head.encode() + body[: len(body) // 2])
print("half", flush=True)
sys.stdin.readline()
connection.sendall(body[len(body) // 2 :])
print(connection.recv(4096).decode().split("\\r\\n")[0], flush=True)
"""


def test_stopping_the_bridge_finishes_a_request_in_flight(host: SystemdHost) -> None:
    token = tokens(host)["ingest"]
    with subprocess.Popen(
        [
            *host.enter(),
            "/usr/bin/python3",
            "-c",
            HALF_SENDER,
            token,
            json.dumps(alert("SentWhileStopping")),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as sender:
        assert sender.stdout is not None and sender.stdin is not None
        assert sender.stdout.readline().strip() == "half"
        host.run("systemctl", "stop", "--no-block", BRIDGE)
        host.wait_until(f"systemctl is-active {BRIDGE}", "deactivating", timeout=10)
        sender.stdin.write("\n")
        sender.stdin.flush()
        status_line = sender.stdout.readline().strip()
    assert status_line == "HTTP/1.1 200 OK"
    host.wait_until(f"systemctl is-active {BRIDGE}", "inactive", timeout=30)
    host.run("systemctl", "start", BRIDGE)
    host.wait_until(f"systemctl is-active {BRIDGE}", "active", timeout=READY_WITHIN)
    assert "SentWhileStopping on db1" in " ".join(incident_titles(host))


def test_stopping_the_agent_saves_its_alert_state(host: SystemdHost) -> None:
    mtime = "import os, sys; print(os.stat(sys.argv[1]).st_mtime_ns if os.path.exists(sys.argv[1]) else 0)"
    state = "/var/lib/tocsin-agent/alerts.json"
    before = int(host.python(mtime, state))
    host.run("systemctl", "stop", AGENT)
    assert int(host.python(mtime, state)) > before
    assert any("stopping" in e["MESSAGE"] for e in journal(host, AGENT))
    host.run("systemctl", "start", AGENT)
    host.wait_until(f"systemctl is-active {AGENT}", "active", timeout=READY_WITHIN)


def test_packages_upgrade_remove_and_purge_leaving_nothing(
    host: SystemdHost, packages: dict[str, Path]
) -> None:
    before = main_pid(host, AGENT)
    host.run("dpkg", "-i", f"/share/{packages['agent-next'].name}", timeout=180)
    assert host.run("dpkg-query", "-W", "-f=${Version}", "tocsin-agent").stdout == NEXT_VERSION
    host.wait_until(f"systemctl is-active {AGENT}", "active", timeout=READY_WITHIN)
    assert main_pid(host, AGENT) not in (0, before)
    assert http(host, "GET", "http://127.0.0.1:10042/metrics")[0] == 200

    host.run("dpkg", "-r", "tocsin-agent", timeout=120)
    assert host.run("systemctl", "is-active", AGENT, check=False).stdout.strip() == "inactive"
    assert host.run("test", "-e", "/opt/tocsin-agent", check=False).returncode != 0
    assert host.run("test", "-e", "/etc/tocsin/agent.yml").returncode == 0

    host.run("dpkg", "-P", "tocsin-agent", "tocsin-bridge", timeout=120)
    assert host.run("getent", "passwd", "tocsin", check=False).returncode != 0
    assert host.upper_paths("tocsin") == []


def test_lintian_finds_no_errors_in_either_package(packages: dict[str, Path]) -> None:
    lintian = require_binary("lintian")
    result = subprocess.run(
        [lintian, "--fail-on", "error", str(packages["agent"]), str(packages["bridge"])],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not [line for line in result.stdout.splitlines() if line.startswith("E:")]
