"""Service checks: the config, each probe against the real thing, and a runner that never waits."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.agent.certs import Pki, make_pki
from tests.agent.fakes import FakeClock, Receiver
from tests.agent.test_transport import server_context
from tests.peers import require_binary
from tocsin.agent.checks import CERT_EXPIRY, FILE_AGE, HTTP_STATUS, PROCESSES
from tocsin.agent.checks.probes import (
    Outcome,
    probe_file,
    probe_http,
    probe_pidfile,
    probe_process,
    probe_tcp,
    probe_tls,
)
from tocsin.agent.checks.runner import Checks
from tocsin.agent.checks.spec import CheckSpec, parse_checks
from tocsin.agent.config import load_config
from tocsin.agent.errors import ConfigError


def spec(kind: str, target: str, **options: object) -> CheckSpec:
    return CheckSpec("c", kind, target, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def named_process(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A running process whose name (comm) is `tocsinprobe`: a copy of sleep."""
    binary = tmp_path / "tocsinprobe"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", binary)
    process = subprocess.Popen([str(binary), "60"])
    comm = Path(f"/proc/{process.pid}/comm")
    deadline = time.monotonic() + 10
    # Until it has exec'd, the child still bears the test's own name.
    while comm.read_text().strip() != "tocsinprobe" and time.monotonic() < deadline:
        time.sleep(0.01)
    yield process
    process.kill()
    process.wait(timeout=10)


def test_a_running_process_is_found_by_name(named_process: subprocess.Popen[bytes]) -> None:
    assert probe_process(spec("process", "tocsinprobe")) == Outcome(True, {PROCESSES: 1.0})
    missing = probe_process(spec("process", "tocsin-no-such"))
    assert (missing.up, missing.problem) == (False, "no process named tocsin-no-such")


def test_a_pidfile_names_a_live_process_or_not(
    named_process: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    pidfile = tmp_path / "probe.pid"
    pidfile.write_text(f"{named_process.pid}\n")
    assert probe_pidfile(spec("pidfile", str(pidfile))).up
    named_process.kill()
    named_process.wait(timeout=10)
    gone = probe_pidfile(spec("pidfile", str(pidfile)))
    assert (gone.up, gone.values) == (False, {PROCESSES: 0.0})
    assert "is not running" in gone.problem
    assert not probe_pidfile(spec("pidfile", str(tmp_path / "none.pid"))).up


def test_a_tcp_port_answers_or_is_refused() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert probe_tcp(spec("tcp", f"127.0.0.1:{port}", timeout=2.0)).up
    refused = probe_tcp(spec("tcp", f"127.0.0.1:{port}", timeout=2.0))
    assert not refused.up and "refused" in refused.problem.lower()


@pytest.fixture
def web() -> Iterator[str]:
    """A plain HTTP server: /ok answers 200, /broken 503."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200 if self.path == "/ok" else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_passes_on_an_accepted_status(web: str) -> None:
    assert probe_http(spec("http", f"{web}/ok")) == Outcome(True, {HTTP_STATUS: 200.0})
    broken = probe_http(spec("http", f"{web}/broken"))
    assert (broken.up, broken.values) == (False, {HTTP_STATUS: 503.0})
    assert broken.problem.endswith("answered HTTP 503")
    assert probe_http(spec("http", f"{web}/broken", statuses=(503,))).up


def test_tls_reports_the_certificates_time_left(pki: Pki) -> None:
    server = Receiver(tls=server_context(pki)).start()
    try:
        target = f"127.0.0.1:{server.port}"
        trusted = probe_tls(spec("tls", target, ca_file=str(pki.ca)))
        assert trusted.up and 86400 < trusted.values[CERT_EXPIRY] <= 2 * 86400
        untrusted = probe_tls(spec("tls", target, ca_file=str(pki.other_ca)))
        assert not untrusted.up and "certificate verify failed" in untrusted.problem
        later = probe_tls(spec("tls", target, ca_file=str(pki.ca)), now=lambda: time.time() + 3e5)
        assert not later.up and later.values[CERT_EXPIRY] < 0
    finally:
        server.stop()


def test_a_file_must_exist_and_be_fresh_enough(tmp_path: Path) -> None:
    dump = tmp_path / "db.dump"
    dump.write_bytes(b"x" * 10)
    os.utime(dump, (1_700_000_000, 1_700_000_000))
    fresh = probe_file(spec("file", str(dump), max_age=3600.0), now=lambda: 1_700_000_600.0)
    assert fresh == Outcome(True, {FILE_AGE: 600.0, "tocsin_check_file_size_bytes": 10.0})
    stale = probe_file(spec("file", str(dump), max_age=300.0), now=lambda: 1_700_000_600.0)
    assert not stale.up and "600s old (max_age 300s)" in stale.problem
    assert not probe_file(spec("file", str(tmp_path / "none"))).up


def test_a_hung_check_fails_at_its_timeout_and_never_piles_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()
    calls: list[float] = []

    def hang(check: CheckSpec) -> Outcome:
        calls.append(time.monotonic())
        release.wait(30)
        return Outcome(True)

    clock = FakeClock(0.0)
    checks = Checks([spec("tcp", "h:1", timeout=5.0, interval=10.0)], clock, {"tcp": hang})
    try:
        # Had the cycle waited for the probe, it would hold the probe's result now.
        assert checks.series() == ()
        clock.advance(6)
        with caplog.at_level(logging.WARNING):
            (up, duration) = checks.series()
        assert (up.name, up.labels, up.value) == (
            "tocsin_check_up",
            {"check": "c", "kind": "tcp"},
            0,
        )
        assert duration.value == 6
        assert "check c (tcp) failed: no answer within 5s" in caplog.text
        for _ in range(5):
            clock.advance(10)
            checks.series()
        assert len(calls) == 1
    finally:
        release.set()


def test_a_probe_that_raises_is_a_failed_check() -> None:
    def broken(check: CheckSpec) -> Outcome:
        raise RuntimeError("boom")

    checks = Checks([spec("file", "/x")], FakeClock(0.0), {"file": broken})
    checks.series()
    deadline = time.monotonic() + 10
    while not checks.series() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert checks.series()[0].value == 0.0


def test_checks_are_read_from_the_config(tmp_path: Path) -> None:
    path = tmp_path / "agent.yml"
    path.write_text(
        "checks:\n"
        "  - {name: nginx, process: nginx}\n"
        "  - {name: db, pidfile: run/db.pid, interval: 1m}\n"
        "  - {name: api, http: 'http://127.0.0.1:8080/health', status: [200, 204], timeout: 2s}\n"
        "  - {name: cert, tls: 'www.example.com:443', ca_file: ca.pem}\n"
        "  - {name: backup, file: /var/backups/db.dump, max_age: 26h}\n"
    )
    config = load_config(path, env={"HOME": "/h"}, hostname="web1")
    assert [(c.name, c.label, c.timeout, c.interval) for c in config.checks] == [
        ("nginx", "process", 5.0, 30.0),
        ("db", "process", 5.0, 60.0),
        ("api", "http", 2.0, 30.0),
        ("cert", "tls", 5.0, 30.0),
        ("backup", "file", 5.0, 30.0),
    ]
    assert config.checks[1].target == str(tmp_path / "run" / "db.pid")
    assert config.checks[2].statuses == (200, 204)
    assert config.checks[3].ca_file == str(tmp_path / "ca.pem")
    assert config.checks[4].max_age == 26 * 3600


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ("{name: a}", ":1: check 'a': 'name' needs exactly one of process, pidfile, tcp"),
        ("{name: a, tcp: 'h:1', http: 'http://h'}", "'http' needs exactly one of"),
        ("{name: a, tcp: h}", "'tcp' is 'h'; expected host:port"),
        ("{name: a, http: 'ftp://h'}", "'http' is 'ftp://h'; expected an http"),
        ("{name: a, tcp: 'h:1', status: [200]}", "'status' is not a key of a tcp check"),
        ("{name: a, http: 'http://h', status: [99]}", "'status' is [99]; expected HTTP status"),
        ("{name: a, tcp: 'h:1', timeout: 1m}", "'timeout' is longer than the check's interval"),
        ("{name: 'a b', tcp: 'h:1'}", "'name' is 'a b'"),
        ("{name: a, tcp: 'h:1'}, {name: a, tcp: 'h:2'}", "'name' is used by an earlier check"),
    ],
)
def test_bad_checks_are_refused_naming_the_line_and_key(
    tmp_path: Path, items: str, expected: str
) -> None:
    path = tmp_path / "agent.yml"
    path.write_text(f"checks: [{items}]\n")
    with pytest.raises(ConfigError, match=None) as caught:
        load_config(path, env={"HOME": "/h"}, hostname="web1")
    assert expected in str(caught.value)


def test_parse_refuses_a_mapping_for_the_list() -> None:
    with pytest.raises(ConfigError, match="'checks' is .*expected a list"):
        parse_checks({"a": 1}, "agent.yml", 3, Path("."))


def test_the_agent_publishes_its_checks_and_alerts_on_them(tmp_path: Path) -> None:
    from tests.agent.fakes import ScriptedSampler, cpu
    from tests.agent.test_daemon import make_config
    from tocsin.agent.daemon import Agent
    from tocsin.agent.rules import Rule

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    check = CheckSpec("ssh", "tcp", f"127.0.0.1:{closed}", timeout=1.0, interval=1.0)
    failed = Rule("ServiceCheckFailed", "tocsin_check_up", "<", 1.0, 1.0, 0.0, "critical")
    config = make_config(tmp_path, None, checks=(check,), rules=(failed,))
    agent = Agent(config, sampler_factory=lambda _: ScriptedSampler(cpu(0.5)))
    agent.start()
    try:
        deadline = time.monotonic() + 20
        fired: list[str] = []
        while not fired and time.monotonic() < deadline:
            fired = [t.alert.label("check") for t in agent.tick() if t.change == "firing"]
            time.sleep(0.05)
        assert fired == ["ssh"]
        agent.exposition.refresh()
        body = agent.exposition.body(gzipped=False).decode()
        assert 'tocsin_check_up{check="ssh",kind="tcp"} 0.0' in body
        assert "# HELP tocsin_check_up 1 if the service check passed" in body
        promtool = require_binary("promtool")
        linted = subprocess.run(
            [promtool, "check", "metrics"], input=body, capture_output=True, text=True, timeout=60
        )
        assert linted.returncode == 0, linted.stdout + linted.stderr
    finally:
        agent.stop()
