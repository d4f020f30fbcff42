"""The example Alertmanager and Prometheus configurations pass their own tools' checks."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.peers import require_binary

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
RULES = ROOT / "rules" / "prometheus"


def load(name: str) -> dict[str, Any]:
    """Parse one example file."""
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return data


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run a peer tool, bounded in time, capturing its output."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_alertmanager_example_passes_amtool_check_config() -> None:
    amtool = require_binary("amtool")
    result = run(amtool, "check-config", str(EXAMPLES / "alertmanager.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_example_sends_resolved_alerts_to_the_bridge_with_a_bearer_token() -> None:
    (receiver,) = [r for r in load("alertmanager.yml")["receivers"] if r["name"] == "tocsin"]
    (webhook,) = receiver["webhook_configs"]
    assert webhook["url"].endswith("/api/v1/alertmanager")
    assert webhook["send_resolved"] is True
    assert webhook["http_config"]["authorization"]["type"] == "Bearer"
    assert webhook["http_config"]["authorization"]["credentials_file"]


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["alertname=HostCpuHigh", "severity=warning"], "tocsin"),
        (["alertname=HostDown", "severity=critical"], "tocsin"),
        (["alertname=TocsinBridgeDown", "severity=critical"], "ops-mail,tocsin"),
        (["alertname=TocsinAgentWatchdog", "severity=info"], "deadman"),
    ],
)
def test_alertmanager_example_routes_every_alert_to_the_bridge(
    labels: list[str], receivers: str
) -> None:
    amtool = require_binary("amtool")
    config = f"--config.file={EXAMPLES / 'alertmanager.yml'}"
    result = run(
        amtool, "config", "routes", "test", config, f"--verify.receivers={receivers}", *labels
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_example_passes_promtool_check_config_with_the_shipped_rules(
    tmp_path: Path,
) -> None:
    promtool = require_binary("promtool")
    config = load("prometheus.yml")
    # The example points at /etc/prometheus; check it against the rules in this repository.
    config["rule_files"] = [str(RULES / "*.yml")]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = run(promtool, "check", "config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(list(RULES.glob('*.yml')))} rule files found" in result.stdout


def test_prometheus_example_passes_promtool_check_config_as_written() -> None:
    promtool = require_binary("promtool")
    result = run(promtool, "check", "config", str(EXAMPLES / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_example_pushes_to_the_bridge_as_an_alertmanager_with_authorization() -> None:
    managers = load("prometheus.yml")["alerting"]["alertmanagers"]
    bridge = [m for m in managers if "authorization" in m]
    assert len(bridge) == 1
    assert bridge[0]["api_version"] == "v2"
    assert bridge[0]["path_prefix"] == "/"
    assert bridge[0]["authorization"]["credentials_file"]


def test_prometheus_example_scrapes_agents_and_bridge() -> None:
    jobs = {job["job_name"] for job in load("prometheus.yml")["scrape_configs"]}
    assert {"tocsin-agent", "tocsin-bridge"} <= jobs


def test_ansible_example_passes_ansible_lint(tmp_path: Path) -> None:
    lint = require_binary("ansible-lint")
    result = subprocess.run(
        [lint, "--offline", "--nocolor", "tocsin-agent.yml"],
        cwd=EXAMPLES / "ansible",
        capture_output=True,
        text=True,
        timeout=180,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ANSIBLE_LOCAL_TEMP": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_example_checks_the_config_before_it_replaces_the_old_one() -> None:
    (play,) = yaml.safe_load((EXAMPLES / "ansible" / "tocsin-agent.yml").read_text())
    (template,) = [t for t in play["tasks"] if "ansible.builtin.template" in t]
    assert template["ansible.builtin.template"]["validate"].startswith(
        "/usr/bin/tocsin-agent check-config"
    )
    (token,) = [
        t
        for t in play["tasks"]
        if "ansible.builtin.copy" in t and "content" in t["ansible.builtin.copy"]
    ]
    assert token["no_log"] is True
    assert token["ansible.builtin.copy"]["mode"] == "0640"
