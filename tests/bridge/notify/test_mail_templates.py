"""The reporter's mail templates: bundled in both languages, replaceable, checked at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from tocsin.bridge.errors import ConfigError
from tocsin.bridge.notify.mail_templates import KINDS, LANGUAGES, SAMPLE, MailTemplates


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_bundled_template_renders_a_tagged_subject(kind: str, language: str) -> None:
    mail = MailTemplates().render(kind, language, SAMPLE)
    assert mail.subject.startswith("[#1] ") and mail.text.strip()


def test_an_operators_template_replaces_only_its_own_file(tmp_path: Path) -> None:
    (tmp_path / "receipt.en.txt").write_text(
        "{% block subject %}Ticket {{ id }} opened{% endblock %}"
        "{% block body %}Dear {{ reporter }}, ticket {{ id }}.{% endblock %}",
        encoding="utf-8",
    )
    templates = MailTemplates(tmp_path)
    mail = templates.render("receipt", "en", SAMPLE)
    assert (mail.subject, mail.text) == ("[#1] Ticket 1 opened", "Dear sample, ticket 1.\n")
    assert "我们已受理" in templates.render("receipt", "zh-CN", SAMPLE).subject


def test_a_broken_template_stops_the_start_naming_its_file(tmp_path: Path) -> None:
    (tmp_path / "update.zh-CN.txt").write_text(
        "{% block subject %}{{ labels }}{% endblock %}{% block body %}x{% endblock %}",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"update\.zh-CN\.txt.*labels"):
        MailTemplates(tmp_path).check()


def test_a_template_cannot_reach_python_internals(tmp_path: Path) -> None:
    (tmp_path / "update.en.txt").write_text(
        "{% block subject %}x{% endblock %}"
        "{% block body %}{{ title.__class__.__mro__[1].__subclasses__() }}{% endblock %}",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="update.en.txt"):
        MailTemplates(tmp_path).render("update", "en", SAMPLE)


def test_control_characters_leave_the_body_but_line_breaks_stay() -> None:
    values = {**SAMPLE, "note": "line one\r\nline two\x1b[31m red\u202e"}
    mail = MailTemplates().render("update", "en", values)
    assert "line one\nline two" in mail.text and "\x1b" not in mail.text
    assert "\u202e" not in mail.text and "\r" not in mail.text
