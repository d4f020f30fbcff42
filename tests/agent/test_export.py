"""`rules export --format prometheus`: the committed file, promtool, and hysteresis in PromQL."""

from __future__ import annotations

import subprocess
from importlib.resources import files
from pathlib import Path

import yaml

from tests.peers import require_binary
from tocsin.agent.export import export_prometheus, expression
from tocsin.agent.rules import Rule, load_bundled_rules

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "rules" / "prometheus" / "tocsin-agent.yml"
CPU = Rule("HostCpuHigh", "tocsin_cpu_usage_ratio", ">", 0.85, 0.75, 600.0, "warning")


def test_committed_export_equals_a_fresh_export_of_the_bundled_rules() -> None:
    assert COMMITTED.read_text() == export_prometheus(load_bundled_rules()), (
        "regenerate: tocsin-agent rules export --format prometheus > rules/prometheus/tocsin-agent.yml"
    )


def test_committed_export_ships_as_package_data() -> None:
    shipped = files("tocsin_rules").joinpath("prometheus/tocsin-agent.yml")
    assert shipped.read_text() == COMMITTED.read_text()


def test_promtool_accepts_the_committed_export() -> None:
    promtool = require_binary("promtool")
    result = subprocess.run(
        [promtool, "check", "rules", str(COMMITTED)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(load_bundled_rules())} rules found" in result.stdout


def test_rule_without_hysteresis_is_a_plain_comparison() -> None:
    rule = Rule(
        "RootFull", "tocsin_filesystem_used_ratio", ">=", 0.9, 0.9, match=(("mountpoint", "/"),)
    )
    assert expression(rule) == 'tocsin_filesystem_used_ratio{mountpoint="/"} >= 0.9'


def test_export_keeps_for_severity_labels_and_annotation_templates() -> None:
    (exported,) = yaml.safe_load(export_prometheus([CPU], [("env", "prod")]))["groups"][0]["rules"]
    assert exported["alert"] == "HostCpuHigh"
    assert exported["for"] == "10m"
    assert exported["labels"] == {"env": "prod", "severity": "warning"}
    assert 'ALERTS{env="prod", alertname="HostCpuHigh"' in exported["expr"]


def test_prometheus_keeps_firing_until_the_clear_level(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    (tmp_path / "rules.yml").write_text(export_prometheus([CPU]))
    # 0.9 for 15m fires at 10m; 0.8 (between clear and threshold) keeps it; 0.7 resolves it.
    firing = [{"exp_labels": {"severity": "warning", "instance": "h"}}]
    cases = [(10, firing), (17, firing), (24, [])]
    tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'tocsin_cpu_usage_ratio{instance="h"}',
                        "values": "0.9x15 0.8x5 0.7x5",
                    }
                ],
                "alert_rule_test": [
                    {"eval_time": f"{minute}m", "alertname": "HostCpuHigh", "exp_alerts": alerts}
                    for minute, alerts in cases
                ],
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(tests))
    result = subprocess.run(
        [promtool, "test", "rules", "test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
