"""The tocsin-agent command: every subcommand on defaults, clear one-line faults, clean signals."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tocsin.agent.cli import main
from tocsin.agent.rules import load_bundled_rules

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-c", "from tocsin.agent.cli import main; main()"]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_rules_export_without_config_prints_the_committed_file() -> None:
    code, out, _ = invoke("rules", "export", "--format", "prometheus")
    assert code == 0
    assert out == (ROOT / "rules" / "prometheus" / "tocsin-agent.yml").read_text()


def test_rules_export_uses_the_config_rules_but_never_its_host_labels(tmp_path: Path) -> None:
    config = tmp_path / "agent.yml"
    config.write_text(
        "labels: {env: prod, instance: web-1}\n"
        "rules:\n  - {name: Busy, metric: tocsin_load1, threshold: 4, labels: {team: ops}}\n"
    )
    code, out, _ = invoke("rules", "export", "--config", str(config))
    assert code == 0
    assert "alert: Busy" in out and "team: ops" in out
    assert "prod" not in out and "web-1" not in out


def test_check_config_warns_when_alerting_or_metrics_are_silently_off(tmp_path: Path) -> None:
    config = tmp_path / "agent.yml"
    config.write_text("rules: []\n")
    code, out, err = invoke("check-config", str(config))
    assert code == 0 and "OK: 0 rules, no /metrics" in out
    assert f"{config}: warning: 'rules' is empty: this host raises no alerts" in err
    assert f"{config}: warning: no 'listen': /metrics is not served" in err
    config.write_text("listen: 127.0.0.1:9101\n")
    assert invoke("check-config", str(config))[2] == ""


def test_check_config_accepts_a_good_file(tmp_path: Path) -> None:
    config = tmp_path / "agent.yml"
    config.write_text("listen: 127.0.0.1:9101\npush: {url: 'http://127.0.0.1:9093'}\n")
    code, out, _ = invoke("check-config", str(config))
    assert code == 0
    rules = len(load_bundled_rules())
    assert f"OK: {rules} rules, /metrics on 127.0.0.1:9101, pushing to http://127.0.0.1:9093" in out


def test_check_config_hides_push_url_credentials(tmp_path: Path) -> None:
    config = tmp_path / "agent.yml"
    config.write_text("push: {url: 'https://user:hunter2@127.0.0.1:9093'}\n")
    code, out, _ = invoke("check-config", str(config))
    assert code == 0
    assert "pushing to https://***@127.0.0.1:9093" in out and "hunter2" not in out


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"agent.yml": "interval: [\n"}, "agent.yml:2: invalid YAML"),
        ({"agent.yml": "interval: soon\n"}, "agent.yml:1: 'interval' is 'soon'"),
        (
            {
                "agent.yml": "rules: [r.yml]\n",
                "r.yml": "rules:\n  - {name: X, metric: m, threshold: 1}\n",
            },
            "r.yml:2: rule 'X': 'metric' is 'm'",
        ),
        ({"agent.yml": "rules: [r.yml]\n", "r.yml": "rules: [\n"}, "r.yml:2: invalid YAML"),
        ({"other.yml": ""}, "agent.yml: file not found"),
    ],
)
def test_bad_config_prints_one_line_and_exits_78(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    for args in (["check-config"], ["rules", "export", "--config"], ["run", "--config"]):
        code, out, err = invoke(*args, str(tmp_path / "agent.yml"))
        assert code == 78
        assert err.startswith("tocsin-agent: error: ") and expected in err
        assert err.count("\n") == 1 and "Traceback" not in err


def test_run_on_a_taken_port_exits_75_so_systemd_retries(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config = tmp_path / "agent.yml"
        config.write_text(f"listen: 127.0.0.1:{port}\nstate_dir: {tmp_path / 'state'}\n")
        code, _, err = invoke("run", "--config", str(config))
    assert code == 75
    assert f"'listen' 127.0.0.1:{port} cannot be opened" in err and "Traceback" not in err


def test_sample_prints_json_with_gauges() -> None:
    code, out, _ = invoke("sample", "--json", "--pause", "0.2")
    assert code == 0
    names = {series["name"] for series in json.loads(out)["gauges"]}
    assert {"tocsin_cpu_usage_ratio", "tocsin_memory_used_ratio", "tocsin_load1"} <= names


def test_sample_prints_a_table_for_a_person() -> None:
    code, out, _ = invoke("sample", "--pause", "0")
    assert code == 0
    assert "tocsin_memory_used_ratio" in out


def wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float = 20.0) -> str:
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if needle in line:
            return line
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"agent never logged {needle!r}")


def test_run_reloads_on_sighup_keeping_a_good_config_and_stops_on_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "agent.yml"
    config.write_text(f"interval: 1s\nlisten: 127.0.0.1:0\nstate_dir: {tmp_path / 'state'}\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [*COMMAND, "run", "--config", str(config)], stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        try:
            wait_for_line(process, "serving /metrics")
            config.write_text("interval: never\n")
            process.send_signal(signal.SIGHUP)
            assert "'interval' is 'never'" in wait_for_line(process, "reload refused")
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0
        finally:
            process.kill()
    assert (tmp_path / "state" / "alerts.json").exists()


def test_run_refuses_a_newer_state_file_in_one_line_with_exit_78(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "alerts.json").write_text('{"version": 9, "alerts": []}')
    config = tmp_path / "agent.yml"
    config.write_text(f"listen: null\nstate_dir: {tmp_path / 'state'}\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [*COMMAND, "run", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 78
    assert "alert state in format 9, written by a newer tocsin-agent" in done.stderr
    assert "Traceback" not in done.stderr


def test_run_logs_one_json_record_a_line_with_the_alerts_labels(tmp_path: Path) -> None:
    config = tmp_path / "agent.yml"
    config.write_text(
        f"interval: 200ms\nlisten: null\nstate_dir: {tmp_path / 'state'}\nlabels: {{env: t}}\n"
        "rules:\n  - {name: Always, metric: tocsin_load1, op: '>=', threshold: 0}\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TOCSIN_AGENT_LOG_FORMAT": "json"}
    with subprocess.Popen(
        [*COMMAND, "run", "--config", str(config)], stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        try:
            line = wait_for_line(process, '"alert": "firing"')
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0
        finally:
            process.kill()
    record = json.loads(line)
    assert record["level"] == "info" and record["priority"] == 6
    assert record["logger"] == "tocsin.agent.daemon"
    assert record["labels"]["alertname"] == "Always" and record["labels"]["env"] == "t"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["ts"])
