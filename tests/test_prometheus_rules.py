"""Every Prometheus rule file passes `promtool check rules`, and its unit tests pass."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.peers import require_binary
from tests.test_grafana import (
    AGENT_FAMILIES,
    AGENT_HOST_FAMILIES,
    BRIDGE_FAMILIES,
    metric_names,
    series_names,
)

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules" / "prometheus"
RULE_FILES = sorted(RULES.glob("*.yml"))
TEST_FILES = sorted((RULES / "tests").glob("*_test.yml"))
EXPECTED_RULE_FILES = {"fleet.yml", "node-exporter.yml", "tocsin-agent.yml", "tocsin-bridge.yml"}


def run(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a peer tool, bounded in time, capturing its output."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=cwd)


def test_every_expected_rule_file_is_there() -> None:
    assert {path.name for path in RULE_FILES} >= EXPECTED_RULE_FILES


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_rule_file_passes_promtool_check(path: Path) -> None:
    promtool = require_binary("promtool")
    result = run(promtool, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_rule_file_has_unit_tests(path: Path) -> None:
    assert (RULES / "tests" / f"{path.stem}_test.yml") in TEST_FILES


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_rule_unit_tests_pass(path: Path) -> None:
    promtool = require_binary("promtool")
    result = run(promtool, "test", "rules", path.name, cwd=path.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def thresholds(rules: list[dict[str, Any]]) -> list[tuple[str, str, str, float, float]]:
    """Read (alert, severity, for, threshold, clear) from `X > t` or `X > t or (X > c and ALERTS)`."""
    found = []
    for rule in rules:
        levels = re.findall(r"\)?\s*[<>]\s*(-?[0-9.]+)\s*\n", rule["expr"] + "\n")
        found.append(
            (
                rule["alert"],
                rule["labels"]["severity"],
                rule.get("for", "0s"),
                float(levels[0]),
                float(levels[-1]),
            )
        )
    return found


def agent_thresholds() -> list[tuple[str, str, str, float, float]]:
    """Read the same tuple from the agent's bundled host rules (not those on the agent itself)."""
    rules = yaml.safe_load((ROOT / "rules" / "agent.yml").read_text())["rules"]
    # The clock rules have node_exporter's own (node-mixin's NodeClockSkewDetected); the
    # agent's rules about itself and its service checks have no node_exporter counterpart.
    return [
        (
            r["name"],
            r["severity"],
            r.get("for", "0s"),
            float(r["threshold"]),
            float(r.get("clear", r["threshold"])),
        )
        for r in rules
        if not r["metric"].startswith(("tocsin_timex_", "tocsin_agent_", "tocsin_check_"))
    ]


def test_node_exporter_rules_keep_the_agents_thresholds() -> None:
    (group,) = yaml.safe_load((RULES / "node-exporter.yml").read_text())["groups"]
    assert thresholds(group["rules"]) == agent_thresholds()


@pytest.mark.parametrize(
    ("name", "families"),
    [
        ("tocsin-agent.yml", AGENT_FAMILIES | AGENT_HOST_FAMILIES),
        ("fleet.yml", AGENT_FAMILIES | AGENT_HOST_FAMILIES | BRIDGE_FAMILIES),
        ("tocsin-bridge.yml", BRIDGE_FAMILIES),
    ],
)
def test_rules_name_only_metrics_the_daemons_export(name: str, families: dict[str, str]) -> None:
    groups = yaml.safe_load((RULES / name).read_text())["groups"]
    used = set().union(*(metric_names(rule["expr"]) for g in groups for rule in g["rules"]))
    assert used - series_names(families) - {"up", "ALERTS"} == set()
