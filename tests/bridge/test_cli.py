from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from tocsin.bridge import migrations
from tocsin.bridge.cli import main

COMMAND = [sys.executable, "-c", "from tocsin.bridge.cli import main; main()"]


@pytest.fixture
def held_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_check_config_accepts_no_file() -> None:
    result = CliRunner().invoke(main, ["check-config"])
    assert result.exit_code == 0
    assert "tokens: none; serve generates them" in result.output


def test_check_config_error_is_one_line_with_exit_78(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("listen: nowhere\n")
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert result.exit_code == 78
    assert result.output.strip().count("\n") == 0 and "Traceback" not in result.output


def test_migrate_reports_the_revision(sqlite_url: str) -> None:
    result = CliRunner().invoke(main, ["migrate", "--database-url", sqlite_url])
    assert result.exit_code == 0, result.output
    assert f"revision {migrations.head()} (was empty)" in result.output


def test_unreachable_bridge_is_exit_69() -> None:
    result = CliRunner().invoke(
        main, ["incidents", "--url", "http://127.0.0.1:1", "--token", "x", "list"]
    )
    assert result.exit_code == 69
    assert "cannot reach" in result.output


def serve_command(tmp_path: Path, listen: str) -> list[str]:
    config = tmp_path / "bridge.yml"
    config.write_text(
        f"database_url: sqlite:///{tmp_path / 'tocsin.db'}\nlog_level: info\nlisten: '{listen}'\n"
    )
    return [*COMMAND, "serve", "--config", str(config)]


@pytest.mark.parametrize(
    ("host", "code", "reason"),
    [
        ("held", 75, "Address already in use"),
        ("192.0.2.1", 78, "Cannot assign requested address"),  # TEST-NET-1: on no host
        ("nosuch.invalid", 78, "Name or service not known"),
    ],
)
def test_serve_names_listen_when_the_address_cannot_be_bound(
    tmp_path: Path, held_port: int, host: str, code: int, reason: str
) -> None:
    listen = f"127.0.0.1:{held_port}" if host == "held" else f"{host}:8080"
    command = serve_command(tmp_path, listen)
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and "listening on" not in result.stderr
    assert result.stderr.startswith(
        f"tocsin-bridge: {tmp_path / 'bridge.yml'}:3: listen: {listen} cannot be bound: {reason}; "
    )
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "tokens.yml").exists()  # refused before secrets or the database


def test_serve_says_it_is_listening_only_once_it_answers(tmp_path: Path) -> None:
    command = serve_command(tmp_path, "127.0.0.1:0")
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=tmp_path) as process:
        try:
            assert process.stderr is not None
            deadline = time.monotonic() + 30
            line = ""
            while "listening on" not in line and time.monotonic() < deadline:
                line = process.stderr.readline()
                assert line or process.poll() is None, "serve exited before listening"
            port = int(line.rsplit(":", 1)[1].split()[0])
            assert port != 0
            assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
            process.terminate()
            assert process.wait(timeout=20) in (0, -signal.SIGTERM)  # uvicorn re-raises it
        finally:
            process.kill()


def test_check_config_warns_of_people_paged_who_cannot_be_reached(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(
        "priorities: {P1: {response: 15m}}\n"
        "routes: [{priority: P1, escalation: ops}]\n"
        "people: {ann: {}, bob: {email: bob@example.com}, cid: {}}\n"
        "escalation_policies: {ops: [{after: 0m, notify: [person:ann, person:bob]}]}\n"
    )
    config = tmp_path / "bridge.yml"
    config.write_text(f"policy: {policy}\n")
    result = CliRunner().invoke(main, ["check-config", str(config)])
    assert result.exit_code == 0
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: {policy}: person 'ann' (paged by escalation policy ops) has no email and no "
        "channels: their pages reach nobody; give them 'email:' or 'channels:'",
        f"warning: {policy}: person 'bob' (paged by escalation policy ops) has only 'email:' but "
        "the bridge config has no 'smtp:' section: their mail pages cannot be sent",
    ]  # cid is paged by no step: no warning


def test_the_bundled_policy_pages_nobody_unreachable() -> None:
    result = CliRunner().invoke(main, ["check-config"])
    assert "warning:" not in result.output


def test_serve_refuses_a_bad_workers_option_naming_it(tmp_path: Path) -> None:
    command = [*serve_command(tmp_path, "127.0.0.1:0"), "--workers", "0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 78, result.stderr
    assert "command line: workers: 0 must be a whole number from 1 to 64" in result.stderr
    assert "Traceback" not in result.stderr
