from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bridge.cli import main


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
    assert "revision 0001 (was empty)" in result.output


def test_unreachable_bridge_is_exit_69() -> None:
    result = CliRunner().invoke(
        main, ["incidents", "--url", "http://127.0.0.1:1", "--token", "x", "list"]
    )
    assert result.exit_code == 69
    assert "cannot reach" in result.output
