"""The `reporter_mail:` config section and a team's `manager:` in the policy."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tocsin.bridge.errors import ConfigError
from tocsin.bridge.platform.config import parse_config
from tocsin.bridge.policy.load import parse_policy


def test_defaults_mail_reporters_in_english_threaded_under_tocsin() -> None:
    settings = parse_config({}, "bridge.yml").reporter_mail
    assert (settings.enabled, settings.domain, settings.language) == (True, "tocsin", "en")
    assert settings.survey_ttl == timedelta(days=14)


def test_every_key_is_read(tmp_path: Path) -> None:
    (tmp_path / "mail").mkdir()
    raw = {"reporter_mail": {"domain": "desk.example.com", "from": "desk@example.com",
                             "reply_to": "in@example.com", "language": "zh-CN",
                             "templates": "mail", "survey_ttl": "7d", "enabled": False}}  # fmt: skip
    settings = parse_config(raw, "bridge.yml", base=tmp_path).reporter_mail
    assert (settings.domain, settings.sender, settings.reply_to, settings.language) == (
        "desk.example.com", "desk@example.com", "in@example.com", "zh-CN")  # fmt: skip
    assert (settings.templates, settings.survey_ttl, settings.enabled) == (
        tmp_path / "mail", timedelta(days=7), False)  # fmt: skip


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("language", "fr", "not one of en, zh-CN"),
        ("domain", "bad domain", "not a mail domain"),
        ("reply_to", "a@b\nBcc: c@d", "not one mail address"),
        ("templates", "/nonexistent/folder", "is not a folder"),
        ("survey_ttl", "10m", "at least 1h"),
        ("colour", "red", "colour"),
    ],
)
def test_a_bad_value_names_the_key(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        parse_config({"reporter_mail": {key: value}}, "bridge.yml")
    assert "reporter_mail" in str(raised.value)


POLICY = """
priorities: {P1: {name: e, response: 15m}}
routes: [{priority: P1}]
people: {mia: {name: Mia}}
teams: {desk: {members: [mia], manager: %s}}
"""


def test_a_team_names_its_manager() -> None:
    assert parse_policy(POLICY % "mia", "<test>").teams["desk"].manager == "mia"


def test_an_unknown_manager_is_refused_with_its_place() -> None:
    with pytest.raises(ConfigError, match="manager.*unknown person 'bob'"):
        parse_policy(POLICY % "bob", "<test>")


def test_check_config_checks_the_templates_and_warns_without_smtp(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tocsin.bridge.cli import main

    (tmp_path / "mail").mkdir()
    config = tmp_path / "bridge.yml"
    config.write_text("reporter_mail: {templates: mail}\n")
    result = CliRunner().invoke(main, ["check-config", str(config)])
    assert result.exit_code == 0, result.output
    assert f"reporter mail: templates {tmp_path / 'mail'}" in result.output
    assert "reporter_mail is on but there is no 'smtp:'" in result.output
    (tmp_path / "mail" / "receipt.en.txt").write_text("{% block subject %}{{ nope }}{% endblock %}")
    broken = CliRunner().invoke(main, ["check-config", str(config)])
    assert broken.exit_code == 78 and "receipt.en.txt" in broken.output
