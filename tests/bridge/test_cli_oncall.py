from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tocsin.bridge.cli import main

POLICY = """
priorities: {P1: {response: 15m}}
routes: [{priority: P1}]
people: {ann: {}, bob: {}, dan: {}}
schedules:
  primary:
    timezone: Asia/Shanghai
    rotation: {members: [ann, bob], start: "2026-01-05T09:00", every: 1w}
    overrides: [{person: dan, from: "2026-01-06T00:00", until: "2026-01-07T00:00"}]
teams:
  ops: {members: [ann, bob], schedule: primary}
"""


def run(tmp_path: Path, *args: str) -> str:
    (tmp_path / "policy.yml").write_text(POLICY)
    (tmp_path / "bridge.yml").write_text(f"policy: {tmp_path / 'policy.yml'}\n")
    result = CliRunner().invoke(main, ["oncall", "--config", str(tmp_path / "bridge.yml"), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_oncall_shows_schedule_layer_and_team(tmp_path: Path) -> None:
    out = run(tmp_path, "--at", "2026-01-12T02:00:00Z")  # Monday 10:00 Shanghai: bob's week
    assert "schedule primary [Asia/Shanghai]: bob (layer 0)" in out
    assert "layer 0: bob, next hand-off 2026-01-19T01:00:00Z" in out
    assert "team ops: bob" in out


def test_oncall_shows_an_override(tmp_path: Path) -> None:
    assert "dan (override)" in run(tmp_path, "--at", "2026-01-06T03:00:00Z")


def test_oncall_refuses_a_malformed_time(tmp_path: Path) -> None:
    (tmp_path / "bridge.yml").write_text("{}\n")
    result = CliRunner().invoke(
        main, ["oncall", "--at", "tomorrow", "--config", str(tmp_path / "bridge.yml")]
    )
    assert result.exit_code == 2 and "--at 'tomorrow'" in result.output
