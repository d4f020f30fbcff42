"""Windows from a terminal: tocsin-bridge maintenance and tocsin-agent maintenance, real bridge."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from tests.bridge.helpers import INGEST, OPERATOR, bearer
from tests.bridge.server import BridgeProcess
from tocsin.agent.cli import main as agent
from tocsin.bridge.cli import main as bridge_cli


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    home = tmp_path_factory.mktemp("bridge")
    process = BridgeProcess(home, f"sqlite:///{home / 'tocsin.db'}")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def cli(bridge: BridgeProcess, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        bridge_cli, ["maintenance", "--url", bridge.url, "--token", OPERATOR, *args]
    )
    return result.exit_code, result.output


def test_a_window_is_started_listed_extended_and_ended_from_the_cli(bridge: BridgeProcess) -> None:
    code, out = cli(
        bridge,
        "start",
        "--match",
        "instance=db9",
        "--for",
        "30m",
        "--reason",
        "kernel update",
        "--json",
    )
    assert code == 0, out
    window = json.loads(out)
    assert (window["status"], window["source"], window["created_by"]) == ("active", "cli", "alice")
    code, out = cli(bridge, "list")
    assert code == 0 and f"{window['id']}  active" in out and "instance=db9" in out
    code, out = cli(bridge, "extend", str(window["id"]), "--for", "2h", "--json")
    assert code == 0 and json.loads(out)["audit"][-1]["action"] == "extended"
    code, out = cli(bridge, "end", str(window["id"]))
    assert code == 0 and "ended" in out and "released: 0" in out


def test_a_weekly_window_is_started_listed_and_ended_from_the_cli(bridge: BridgeProcess) -> None:
    weekly = ["--every", "sat,sun", "--at", "02:00", "--for", "2h", "--zone", "Asia/Shanghai"]
    code, out = cli(bridge, "start", "--match", "team=db", *weekly, "--reason", "patch", "--json")
    assert code == 0, out
    window = json.loads(out)
    assert (window["every"], window["source"], window["created_by"]) == (
        "sat,sun 02:00-04:00 Asia/Shanghai",
        "cli",
        "alice",
    )
    assert window["next_start"] is not None or window["status"] == "active"
    code, out = cli(bridge, "list")
    (line,) = [line for line in out.splitlines() if line.startswith(f"{window['id']}  ")]
    assert "every sat,sun 02:00-04:00 Asia/Shanghai" in line and "(cli)" in line, out
    assert " next 20" in line or " until 20" in line
    code, out = cli(bridge, "end", str(window["id"]))
    assert code == 0 and f"{window['id']}  ended" in out, out
    code, out = cli(
        bridge, "start", "--match", "team=db", "--at", "02:00", "--for", "2h", "--reason", "x"
    )
    assert code == 2 and "--at, --zone, --first and --until go with --every" in out
    code, out = cli(
        bridge,
        "start",
        "--match",
        "team=db",
        "--every",
        "sun",
        "--at",
        "02:00",
        "--for",
        "1d",
        "--reason",
        "x",
    )
    assert code != 0 and "less than 24 hours" in out


def test_a_bad_matcher_is_one_line_saying_what_is_wrong(bridge: BridgeProcess) -> None:
    code, out = cli(bridge, "start", "--match", "instance", "--for", "30m", "--reason", "x")
    assert code != 0
    assert out.strip().splitlines() == [
        "tocsin-bridge: 422: 'instance' is not of the form name=value, name!=value or name=~regex"
    ]


def agent_config(tmp_path: Path, url: str) -> Path:
    token = tmp_path / "token"
    token.write_text(INGEST)
    config = tmp_path / "agent.yml"
    config.write_text(
        f"listen: null\nstate_dir: {tmp_path / 'state'}\npush: {{url: {url}, token_file: {token}}}\n"
    )
    return config


def test_the_agent_opens_a_window_on_its_own_host(bridge: BridgeProcess, tmp_path: Path) -> None:
    config = agent_config(tmp_path, bridge.url)
    result = CliRunner().invoke(
        agent, ["maintenance", "--for", "20m", "--reason", "kernel update", "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    assert "page nobody" in result.output
    listed = requests.get(
        f"{bridge.url}/api/v1/maintenance", headers=bearer(OPERATOR), timeout=10
    ).json()
    (window,) = [
        w for w in listed["windows"] if w["reason"] == "kernel update" and w["source"] == "agent"
    ]
    assert window["matchers"] == [f"instance={os.uname().nodename}"]
    assert window["created_by"] == "sender"


def test_at_shutdown_only_a_stopping_system_announces(
    bridge: BridgeProcess, tmp_path: Path
) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    systemctl = fake / "systemctl"
    config = agent_config(tmp_path, bridge.url)
    args = [
        "maintenance",
        "--only-at-shutdown",
        "--for",
        "10m",
        "--reason",
        "shutdown test",
        "--config",
        str(config),
    ]
    env = {"PATH": f"{fake}:{os.environ['PATH']}"}
    for state, announced in (("running", False), ("stopping", True)):
        systemctl.write_text(f"#!/bin/sh\necho {state}\n")
        systemctl.chmod(0o755)
        result = CliRunner().invoke(agent, args, env=env)
        assert result.exit_code == 0, result.output
        assert ("page nobody" in result.output) is announced, result.output
    listed = requests.get(
        f"{bridge.url}/api/v1/maintenance", headers=bearer(OPERATOR), timeout=10
    ).json()
    assert len([w for w in listed["windows"] if w["reason"] == "shutdown test"]) == 1


def test_an_agent_without_a_bridge_says_so(tmp_path: Path) -> None:
    config = tmp_path / "agent.yml"
    config.write_text(f"listen: null\nstate_dir: {tmp_path}\n")
    result = CliRunner().invoke(
        agent, ["maintenance", "--for", "10m", "--reason", "x", "--config", str(config)]
    )
    assert result.exit_code == 78 and "no 'push' receiver" in result.output
